package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// Huma writes a response's status before it marshals the body, so a body
// that fails to marshal (a JSON value nested deeper than encoding/json
// accepts, say) used to go out as a 200 with the text "error marshaling
// response". Two pieces turn it into a 500 problem instead:
//
//   - holdStatus, a router middleware, delays the status until the first
//     byte of the body is written;
//   - the JSON format marshals into a buffer first, and when that fails
//     (before anything was written) asks the held writer to answer a 500
//     problem in place of the response.

// jsonFormat returns the JSON format of the API: encoding/json without HTML
// escaping, as Huma's default, but buffered so that a failure can still
// become a 500 problem. It logs the failure to logger.
func jsonFormat(logger *slog.Logger) huma.Format {
	return huma.Format{
		Marshal: func(w io.Writer, v any) error {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(v); err != nil {
				held, ok := w.(*heldWriter)
				if !ok || held.committed {
					return err
				}
				logger.Error("response body failed to marshal", slog.String("error", err.Error()))
				held.fail()
				return nil
			}
			_, err := w.Write(buf.Bytes())
			return err
		},
		Unmarshal: huma.DefaultJSONFormat.Unmarshal,
	}
}

// holdStatus wraps the response writer of every routed request in a
// heldWriter.
func holdStatus(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		held := &heldWriter{ResponseWriter: w}
		next.ServeHTTP(held, r)
		held.commit()
	})
}

// heldWriter holds the status given to WriteHeader until the body's first
// write (or the end of the handler), so that fail can still replace the
// response by a 500 problem.
type heldWriter struct {
	http.ResponseWriter
	status    int
	committed bool
}

// WriteHeader records status; it is sent with the first write.
func (w *heldWriter) WriteHeader(status int) {
	if w.committed || w.status != 0 {
		return
	}
	if status >= 100 && status < 200 {
		w.ResponseWriter.WriteHeader(status) // informational: send it now
		return
	}
	w.status = status
}

// Write sends the held status, then b.
func (w *heldWriter) Write(b []byte) (int, error) {
	w.commit()
	return w.ResponseWriter.Write(b)
}

// Flush sends the held status and flushes, for streaming responses.
func (w *heldWriter) Flush() {
	w.commit()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *heldWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *heldWriter) commit() {
	if w.committed {
		return
	}
	w.committed = true
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.ResponseWriter.WriteHeader(w.status)
}

// fail replaces the response, which must not be committed yet, by a 500
// problem.
func (w *heldWriter) fail() {
	header := w.Header()
	for _, name := range []string{"Content-Length", "Idempotent-Replayed", "Location", "Etag", "Last-Modified"} {
		header.Del(name)
	}
	w.committed = true
	writeProblem(w.ResponseWriter, http.StatusInternalServerError, "internal server error")
}
