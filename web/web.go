// Package web serves the Baton dashboard, a React single-page app built by Vite, and the
// offline API docs (Swagger UI), from files embedded in the binary.
//
// # Build output and placeholders
//
// `npm run build` (make web) writes the dashboard to web/dist and Swagger UI, with the page
// that starts it, to web/dist/docs. None of that is committed: web/.gitignore ignores
// everything in dist except dist/.keep, a committed file whose only job is to make the
// `all:dist` embed pattern below compile in a fresh clone. Until a build provides them, the
// pages in web/placeholder stand in for index.html and docs/index.html, so `go build` works
// without Node and the binary tells the user how to get the real thing. Vite's own
// emptyOutDir would delete dist/.keep, so the build empties dist itself and keeps that file
// (vite.config.ts): `git status` stays clean after a build.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var distFiles embed.FS

//go:embed placeholder
var placeholderFiles embed.FS

const (
	// cacheImmutable is sent with Vite's content-hashed files under /assets/.
	cacheImmutable = "public, max-age=31536000, immutable"
	// cacheRevalidate is sent with everything else: browsers keep a copy but check its ETag.
	cacheRevalidate = "no-cache"
)

// Handler returns the handler for the dashboard and the API docs. It answers every path it
// is given, so mount it after the API routes (as the router's fallback):
//
//   - /docs redirects to /docs/, which serves Swagger UI reading /openapi.json; other paths
//     under /docs/ serve its files or 404.
//   - /assets/… serves Vite's content-hashed files, cached for a year, or 404.
//   - Any other path serves the file of that name if there is one (favicon.svg); otherwise
//     a path that names a static file type (.js, .css, .png, …) gets a 404 and anything
//     else gets index.html, so that the app's client-side routes (/runs/42) survive a reload.
//
// Everything but /assets/ is sent with Cache-Control: no-cache and an ETag. Only GET and
// HEAD are allowed. When the front end has not been built, the placeholder pages are served.
func Handler() http.Handler {
	h, err := newHandler(mustSub(placeholderFiles, "placeholder"), mustSub(distFiles, "dist"))
	if err != nil {
		// Reading an embed.FS does not fail; this would be a corrupt binary.
		panic(fmt.Sprintf("web: indexing embedded files: %v", err))
	}
	return h
}

// DashboardAvailable reports whether the binary embeds a built dashboard (false when only
// the placeholder page is there).
func DashboardAvailable() bool {
	_, err := fs.Stat(distFiles, "dist/index.html")
	return err == nil
}

// DocsAvailable reports whether the binary embeds the Swagger UI docs (false when only
// the placeholder page is there).
func DocsAvailable() bool {
	_, err := fs.Stat(distFiles, "dist/docs/swagger-ui-bundle.js")
	return err == nil
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(fmt.Sprintf("web: sub %q: %v", dir, err))
	}
	return sub
}

// file is one servable file: the layer that provides it and its ETag.
type file struct {
	fsys fs.FS
	etag string
}

// handler serves files from layered file systems; a later layer overrides an earlier one
// file by file, so the build output replaces the placeholders.
type handler struct {
	files map[string]file // by slash path without a leading slash, e.g. "docs/index.html"
}

func newHandler(layers ...fs.FS) (*handler, error) {
	h := &handler{files: make(map[string]file)}
	for _, layer := range layers {
		err := fs.WalkDir(layer, ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if name != "." && strings.HasPrefix(d.Name(), ".") {
				// Dot files such as dist/.keep are never served.
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			data, err := fs.ReadFile(layer, name)
			if err != nil {
				return fmt.Errorf("read %s: %w", name, err)
			}
			sum := sha256.Sum256(data)
			h.files[name] = file{fsys: layer, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walk embedded files: %w", err)
		}
	}
	return h, nil
}

// isStaticExt reports whether ext (lower case, with its dot) is a file type that the app
// never uses as a client-side route: a missing file of such a type is a 404, not
// index.html (a browser would not know what to do with HTML in place of a script).
func isStaticExt(ext string) bool {
	switch ext {
	case ".avif", ".css", ".gif", ".ico", ".jpeg", ".jpg", ".js", ".json", ".map", ".mjs",
		".png", ".svg", ".ttf", ".txt", ".wasm", ".webmanifest", ".webp", ".woff", ".woff2", ".xml":
		return true
	}
	return false
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}

	if r.URL.Path == "/docs" {
		// Swagger UI's page loads its files from relative paths, which only resolve under
		// /docs/. A relative Location keeps this working behind a path prefix.
		target := "docs/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", target)
		w.WriteHeader(http.StatusMovedPermanently)
		return
	}

	clean := path.Clean("/" + r.URL.Path) // no "..", no trailing slash; "/" stays "/"
	name := strings.TrimPrefix(clean, "/")

	switch {
	case name == "docs":
		h.serve(w, r, "docs/index.html", cacheRevalidate)
	case strings.HasPrefix(name, "docs/"):
		h.serve(w, r, name, cacheRevalidate)
	case strings.HasPrefix(name, "assets/"):
		h.serve(w, r, name, cacheImmutable)
	case name != "" && h.has(name):
		h.serve(w, r, name, cacheRevalidate)
	case isStaticExt(strings.ToLower(path.Ext(name))):
		http.NotFound(w, r)
	default:
		h.serve(w, r, "index.html", cacheRevalidate)
	}
}

func (h *handler) has(name string) bool {
	_, ok := h.files[name]
	return ok
}

// serve sends one file, or a 404 when there is no such file. http.ServeContent sets the
// Content-Type from the name's extension and answers If-None-Match and Range requests.
func (h *handler) serve(w http.ResponseWriter, r *http.Request, name, cacheControl string) {
	f, ok := h.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	content, err := open(f.fsys, name)
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	defer content.Close()

	header := w.Header()
	header.Set("Cache-Control", cacheControl)
	header.Set("ETag", f.etag)
	header.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, name, time.Time{}, content)
}

type readSeekCloser interface {
	io.ReadSeeker
	io.Closer
}

// open returns the file as a ReadSeeker; embed.FS files are one already, others are read
// into memory.
func open(fsys fs.FS, name string) (readSeekCloser, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	if rsc, ok := f.(readSeekCloser); ok {
		return rsc, nil
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return nopCloser{bytes.NewReader(data)}, nil
}

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }
