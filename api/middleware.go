package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/go-chi/chi/v5"
)

// logRequests logs one line per request: method, path, status and duration,
// at requestLogLevel's level.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)

		logger.LogAttrs(r.Context(), requestLogLevel(rec.statusCode()), "http request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.statusCode()),
			slog.Duration("duration", time.Since(start)),
		)
	})
}

// requestLogLevel is the level a request with the given response status is
// logged at: server errors at error level; refusals an operator may want to
// see (401, 403, 429) at info; everything else, including the dashboard's
// polling and other client errors, at debug.
func requestLogLevel(status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case status == http.StatusUnauthorized, status == http.StatusForbidden, status == http.StatusTooManyRequests:
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}

// recoverPanics turns a panic in next into a 500 problem (when nothing was
// written yet) and logs it with its stack. The client never sees the panic
// value. http.ErrAbortHandler is re-raised, as net/http expects.
func recoverPanics(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			logger.ErrorContext(r.Context(), "panic serving request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("panic", fmt.Sprint(v)),
				slog.String("stack", string(debug.Stack())),
			)
			if rec, ok := w.(*statusRecorder); ok && rec.status != 0 {
				return // too late for a problem body: the response has begun
			}
			writeProblem(w, http.StatusInternalServerError, "internal server error")
		}()
		next.ServeHTTP(w, r)
	})
}

// notFound answers requests no route matched: a 404 problem under /v1 and /v2 (and
// everywhere when ui is nil), ui otherwise.
func notFound(ui http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ui == nil || r.URL.Path == "/v1" || strings.HasPrefix(r.URL.Path, "/v1/") ||
			r.URL.Path == "/v2" || strings.HasPrefix(r.URL.Path, "/v2/") {
			writeProblem(w, http.StatusNotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
			return
		}
		ui.ServeHTTP(w, r)
	}
}

// methodNotAllowed answers a request whose path has routes, but none for its
// method, with a 405 problem and the Allow header.
func methodNotAllowed(router *chi.Mux) http.HandlerFunc {
	methods := []string{
		http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions,
	}
	return func(w http.ResponseWriter, r *http.Request) {
		var allowed []string
		for _, m := range methods {
			if router.Match(chi.NewRouteContext(), m, r.URL.Path) {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
		}
		writeProblem(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed for %s", r.Method, r.URL.Path))
	}
}

// writeProblem writes an RFC 9457 problem body, the same model Huma's
// operations answer errors with.
func writeProblem(w http.ResponseWriter, status int, detail string) {
	writeProblemModel(w, huma.NewError(status, detail))
}

// writeProblemModel writes problem as an RFC 9457 body with its status.
func writeProblemModel(w http.ResponseWriter, problem huma.StatusError) {
	status := problem.GetStatus()
	body, err := json.Marshal(problem)
	if err != nil {
		// Encoding a struct of strings and ints does not fail.
		body = []byte(`{"status":500,"title":"Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// statusRecorder remembers the status written through it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

// WriteHeader records status and passes it on.
func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

// Write records the implicit 200 of a first write and passes b on.
func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Flush sends buffered data to the client, for streaming responses.
func (r *statusRecorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// statusCode is the status sent, 200 when the handler wrote nothing.
func (r *statusRecorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}
