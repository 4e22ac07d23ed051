package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/go-chi/chi/v5"
)

// VersionHeader names the API version: a request's Baton-Version picks the
// version serving an unversioned path, and every API response names the
// version that served it.
const VersionHeader = "Baton-Version"

// V2ReleaseDate is when API v2 was released; v1 has been deprecated since.
var V2ReleaseDate = time.Date(2026, time.December, 1, 0, 0, 0, 0, time.UTC)

// DefaultSunset is when v1 goes away unless Options.Sunset says otherwise:
// six months after V2ReleaseDate.
var DefaultSunset = V2ReleaseDate.AddDate(0, 6, 0)

// DeprecationPolicyURL is the policy and timeline the v1 responses' Link
// header points at.
const DeprecationPolicyURL = "https://github.com/baton-run/baton/blob/main/docs/api-versioning.md"

// alsoUnderV2 is the v1 group's operation modifier: every v1 operation is
// registered twice, once under /v1 (marked deprecated) and once under /v2
// with the same handler and shape (operation id prefixed "v2-" in the
// combined document; the per-version documents drop the prefix), except the
// v1 operations that v2 replaces with its own (replacedInV2).
func alsoUnderV2(op *huma.Operation, next func(*huma.Operation)) {
	if !replacedInV2(op.OperationID) {
		alsoV2(op, next)
	}
	v1 := *op
	v1.Deprecated = true
	next(&v1)
}

// replacedInV2 reports whether v2 serves the path of v1 operation id with an
// operation of its own: GET /v2/runs is the search (filters, sorts, full
// text) that supersedes v1's run list.
func replacedInV2(id string) bool { return id == "list-runs" || id == "list-workflows" }

func alsoV2(op *huma.Operation, next func(*huma.Operation)) {
	v2 := *op
	v2.Path = "/v2" + strings.TrimPrefix(op.Path, "/v1")
	v2.OperationID = "v2-" + op.OperationID
	next(&v2)
}

// versions negotiates the API version: a /v1 or /v2 path names its own; an
// unversioned path that is an API route under /v2 is served by the version
// in Baton-Version (1 or 2; default 2; anything else is 400) unless the
// request is a browser's page load without the header (the dashboard's
// routes share those paths). v1 responses carry Deprecation (RFC 9745),
// Sunset (RFC 8594) and Link rel="deprecation".
func versions(router *chi.Mux, sunset time.Time, next http.Handler) http.Handler {
	deprecation := fmt.Sprintf("@%d", V2ReleaseDate.Unix())
	sunsetValue := sunset.UTC().Format(http.TimeFormat)
	link := fmt.Sprintf(`<%s>; rel="deprecation"; type="text/html"`, DeprecationPolicyURL)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		version := ""
		switch {
		case path == "/v1" || strings.HasPrefix(path, "/v1/"):
			version = "1"
		case path == "/v2" || strings.HasPrefix(path, "/v2/"):
			version = "2"
		default:
			if router.Match(chi.NewRouteContext(), r.Method, path) {
				break // an unversioned route: the probes, the documents, /metrics
			}
			asked := r.Header.Get(VersionHeader)
			if asked == "" && (strings.Contains(r.Header.Get("Accept"), "text/html") || !router.Match(chi.NewRouteContext(), r.Method, "/v2"+path)) {
				break // the dashboard, the docs, the probes, the documents
			}
			switch strings.TrimSpace(asked) {
			case "", "2":
				version = "2"
			case "1":
				version = "1"
			default:
				writeProblem(w, http.StatusBadRequest, fmt.Sprintf("unknown API version %q in the %s header (want 1 or 2)", asked, VersionHeader))
				return
			}
			u := *r.URL
			u.Path = "/v" + version + path
			u.RawPath = ""
			r2 := r.Clone(r.Context())
			r2.URL = &u
			r2.RequestURI = u.RequestURI()
			r = r2
			w.Header().Add("Vary", VersionHeader)
		}
		if version != "" {
			w.Header().Set(VersionHeader, version)
		}
		if version == "1" {
			w.Header().Set("Deprecation", deprecation)
			w.Header().Set("Sunset", sunsetValue)
			w.Header().Add("Link", link)
		}
		next.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy lets the dashboard and the docs UI (swagger-ui, whose
// stylesheets set inline styles) load their own scripts, styles, images and
// fonts (images also from blob: URLs, which the PNG export draws charts
// from) and call the API, and nothing else; no page may frame them.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; " +
	"base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the security headers of every response.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}
