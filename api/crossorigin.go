package api

import (
	"fmt"
	"mime"
	"net/http"
	"strings"
)

// refuseCrossOrigin refuses state-changing requests (any method but GET,
// HEAD and OPTIONS) that a browser sends on behalf of another site's page,
// with a 403 problem. The check is net/http's CrossOriginProtection:
//
//   - Sec-Fetch-Site must be "same-origin" or "none" when present (every
//     current browser sends it), so "same-site" and "cross-site" are refused;
//   - without Sec-Fetch-Site, an Origin header must name the request's own
//     host (scheme://host:port with host:port equal to r.Host; "null" never
//     does). X-Forwarded-Host is not consulted: a proxy in front of Baton
//     must pass the Host header through;
//   - a request with neither header is not from a browser page (curl, SDKs)
//     and passes.
//
// Safe methods always pass, so the API must never change state on them.
func refuseCrossOrigin(next http.Handler) http.Handler {
	protection := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := protection.Check(r); err != nil {
			writeProblem(w, http.StatusForbidden, fmt.Sprintf("%s %s refused: %v", r.Method, r.URL.Path, err))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireJSON refuses request bodies that declare a content type other than
// JSON (application/json or application/*+json) with a 415 problem naming
// the expected type, on every method but GET, HEAD and OPTIONS. Form and
// text/plain bodies, which a browser can send from any page without asking,
// are therefore never read. A request without a Content-Type header passes:
// Huma reads its body, if any, as JSON.
//
// River's job UI is the exception: its pages send their JSON bodies as
// text/plain. Its actions need the operator role and, from a browser, proof
// that they come from this origin (refuseCrossOrigin, riverUISameOrigin).
func requireJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if IsRiverUI(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		ct := r.Header.Get("Content-Type")
		if ct == "" || isJSONMediaType(ct) {
			next.ServeHTTP(w, r)
			return
		}
		writeProblem(w, http.StatusUnsupportedMediaType,
			fmt.Sprintf("unsupported Content-Type %q: request bodies must be application/json", ct))
	})
}

// isJSONMediaType reports whether the Content-Type value ct is
// application/json or a JSON-based application/*+json type.
func isJSONMediaType(ct string) bool {
	mediaType, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mediaType == "application/json" ||
		(strings.HasPrefix(mediaType, "application/") && strings.HasSuffix(mediaType, "+json"))
}
