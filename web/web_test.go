package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

// The layers a real build produces: the committed placeholders, then the build output.
func testLayers() (fs.FS, fs.FS) {
	placeholder := fstest.MapFS{
		"index.html":      {Data: []byte("<p>Dashboard not built</p>")},
		"docs/index.html": {Data: []byte("<p>API docs not built</p>")},
	}
	dist := fstest.MapFS{
		".keep":                       {Data: []byte("keep")},
		"index.html":                  {Data: []byte(`<div id="root"></div>`)},
		"favicon.svg":                 {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`)},
		"assets/index-abc123.js":      {Data: []byte("console.log(1)")},
		"assets/index-abc123.css":     {Data: []byte("body{}")},
		"docs/index.html":             {Data: []byte("<title>Baton API</title>")},
		"docs/swagger-ui-bundle.js":   {Data: []byte("var SwaggerUIBundle")},
		"docs/swagger-ui.css":         {Data: []byte(".swagger-ui{}")},
		"docs/swagger-initializer.js": {Data: []byte("window.ui = 1")},
	}
	return placeholder, dist
}

func do(t *testing.T, h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandler(t *testing.T) {
	t.Parallel()

	placeholder, dist := testLayers()
	h, err := newHandler(placeholder, dist)
	require.NoError(t, err)

	const html = "text/html; charset=utf-8"
	tests := []struct {
		name        string
		target      string
		status      int
		contentType string
		cache       string
		body        string // substring
	}{
		{"Root", "/", 200, html, "no-cache", `<div id="root">`},
		{"IndexByName", "/index.html", 200, html, "no-cache", `<div id="root">`},
		{"SPARoute", "/runs", 200, html, "no-cache", `<div id="root">`},
		{"SPADeepRoute", "/runs/42", 200, html, "no-cache", `<div id="root">`},
		{"SPATrailingSlash", "/runs/", 200, html, "no-cache", `<div id="root">`},
		{"SPAWithQuery", "/runs?status=running", 200, html, "no-cache", `<div id="root">`},
		{"SPADotInRoute", "/workflows/release-1.2", 200, html, "no-cache", `<div id="root">`},
		{"PublicFile", "/favicon.svg", 200, "image/svg+xml", "no-cache", "<svg"},
		{"HashedScript", "/assets/index-abc123.js", 200, "text/javascript; charset=utf-8", cacheImmutable, "console.log"},
		{"HashedStyle", "/assets/index-abc123.css", 200, "text/css; charset=utf-8", cacheImmutable, "body{}"},
		{"MissingAsset", "/assets/index-gone.js", 404, "", "", ""},
		{"MissingScriptOutsideAssets", "/app.js", 404, "", "", ""},
		{"MissingImage", "/logo.png", 404, "", "", ""},
		{"DocsSlash", "/docs/", 200, html, "no-cache", "Baton API"},
		{"DocsIndex", "/docs/index.html", 200, html, "no-cache", "Baton API"},
		{"DocsBundle", "/docs/swagger-ui-bundle.js", 200, "text/javascript; charset=utf-8", "no-cache", "SwaggerUIBundle"},
		{"DocsStyle", "/docs/swagger-ui.css", 200, "text/css; charset=utf-8", "no-cache", ".swagger-ui"},
		{"DocsMissing", "/docs/nope", 404, "", "", ""},
		// Neither a dot file nor anything outside the layers is served: those paths are
		// client-side routes as far as the handler knows.
		{"DotFileNotServed", "/.keep", 200, html, "no-cache", `<div id="root">`},
		{"TraversalCleaned", "/assets/../../web.go", 200, html, "no-cache", `<div id="root">`},
		{"TraversalScript", "/docs/../../../etc/x.js", 404, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := do(t, h, http.MethodGet, tt.target, nil)
			require.Equal(t, tt.status, rec.Code, rec.Body.String())
			if tt.status != http.StatusOK {
				return
			}
			require.Equal(t, tt.contentType, rec.Header().Get("Content-Type"))
			require.Equal(t, tt.cache, rec.Header().Get("Cache-Control"))
			require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
			require.NotEmpty(t, rec.Header().Get("ETag"))
			require.Contains(t, rec.Body.String(), tt.body)
		})
	}
}

func TestHandlerDocsRedirect(t *testing.T) {
	t.Parallel()

	placeholder, dist := testLayers()
	h, err := newHandler(placeholder, dist)
	require.NoError(t, err)

	rec := do(t, h, http.MethodGet, "/docs", nil)
	require.Equal(t, http.StatusMovedPermanently, rec.Code)
	require.Equal(t, "docs/", rec.Header().Get("Location"))

	rec = do(t, h, http.MethodGet, "/docs?x=1", nil)
	require.Equal(t, http.StatusMovedPermanently, rec.Code)
	require.Equal(t, "docs/?x=1", rec.Header().Get("Location"))
}

func TestHandlerMethods(t *testing.T) {
	t.Parallel()

	placeholder, dist := testLayers()
	h, err := newHandler(placeholder, dist)
	require.NoError(t, err)

	rec := do(t, h, http.MethodHead, "/runs/1", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	require.Empty(t, rec.Body.String())

	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rec := do(t, h, method, "/runs", nil)
		require.Equal(t, http.StatusMethodNotAllowed, rec.Code, method)
		require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
	}
}

func TestHandlerETag(t *testing.T) {
	t.Parallel()

	placeholder, dist := testLayers()
	h, err := newHandler(placeholder, dist)
	require.NoError(t, err)

	first := do(t, h, http.MethodGet, "/docs/swagger-ui-bundle.js", nil)
	require.Equal(t, http.StatusOK, first.Code)
	etag := first.Header().Get("ETag")
	require.Regexp(t, `^"[A-Za-z0-9_-]+"$`, etag)

	again := do(t, h, http.MethodGet, "/docs/swagger-ui-bundle.js", http.Header{"If-None-Match": {etag}})
	require.Equal(t, http.StatusNotModified, again.Code)
	require.Empty(t, again.Body.String())

	// Every file has its own tag.
	other := do(t, h, http.MethodGet, "/docs/swagger-ui.css", nil)
	require.NotEqual(t, etag, other.Header().Get("ETag"))
}

func TestHandlerPlaceholderOnly(t *testing.T) {
	t.Parallel()

	placeholder, _ := testLayers()
	h, err := newHandler(placeholder, fstest.MapFS{".keep": {Data: []byte("keep")}})
	require.NoError(t, err)

	rec := do(t, h, http.MethodGet, "/runs/7", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	require.Contains(t, rec.Body.String(), "Dashboard not built")

	rec = do(t, h, http.MethodGet, "/docs/", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "API docs not built")

	rec = do(t, h, http.MethodGet, "/docs/swagger-ui-bundle.js", nil)
	require.Equal(t, http.StatusNotFound, rec.Code)
}

// TestEmbedded checks the files this binary really embeds: the placeholders on a fresh
// clone, the built dashboard and docs after `npm run build`.
func TestEmbedded(t *testing.T) {
	t.Parallel()

	h := Handler()
	const html = "text/html; charset=utf-8"

	root := do(t, h, http.MethodGet, "/", nil)
	require.Equal(t, http.StatusOK, root.Code)
	require.Equal(t, html, root.Header().Get("Content-Type"))
	require.Equal(t, "no-cache", root.Header().Get("Cache-Control"))

	route := do(t, h, http.MethodGet, "/runs/42", nil)
	require.Equal(t, http.StatusOK, route.Code)
	require.Equal(t, root.Body.String(), route.Body.String(), "client-side routes get index.html")

	docs := do(t, h, http.MethodGet, "/docs/", nil)
	require.Equal(t, http.StatusOK, docs.Code)
	require.Equal(t, html, docs.Header().Get("Content-Type"))

	bundle := do(t, h, http.MethodGet, "/docs/swagger-ui-bundle.js", nil)
	if DocsAvailable() {
		require.Equal(t, http.StatusOK, bundle.Code)
		require.Equal(t, "text/javascript; charset=utf-8", bundle.Header().Get("Content-Type"))
		require.Contains(t, docs.Body.String(), "swagger-ui-bundle.js")
		for _, ref := range []string{"swagger-ui.css", "swagger-initializer.js"} {
			require.Equal(t, http.StatusOK, do(t, h, http.MethodGet, "/docs/"+ref, nil).Code, ref)
		}
		require.NotRegexp(t, `(?i)(src|href)="https?://`, docs.Body.String(), "docs must not load anything external")
	} else {
		require.Equal(t, http.StatusNotFound, bundle.Code)
		require.Contains(t, docs.Body.String(), "API docs not built")
	}

	if !DashboardAvailable() {
		require.Contains(t, root.Body.String(), "Dashboard not built")
		return
	}
	// Every hashed asset index.html refers to is served with a long cache lifetime.
	refs := regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(root.Body.String(), -1)
	require.NotEmpty(t, refs, "built index.html should load /assets/")
	for _, ref := range refs {
		rec := do(t, h, http.MethodGet, ref[1], nil)
		require.Equal(t, http.StatusOK, rec.Code, ref[1])
		require.Equal(t, cacheImmutable, rec.Header().Get("Cache-Control"), ref[1])
		if strings.HasSuffix(ref[1], ".js") {
			require.Equal(t, "text/javascript; charset=utf-8", rec.Header().Get("Content-Type"))
		}
	}
}
