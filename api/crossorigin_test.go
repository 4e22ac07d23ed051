package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/api"
)

// execWorkflow is a workflow a hostile page would like to create: one step
// of an exec task type.
const execWorkflow = `{"name": "pwned", "steps": [{"name": "run", "type": "shell", "params": {"command": "touch", "args": ["/tmp/pwned"]}}]}`

// send sends a POST (or method) with body and the given headers to the
// handler; httptest's requests have Host "example.com".
func (s *server) send(method, path, body string, headers map[string]string) *httptest.ResponseRecorder {
	s.t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader([]byte(body)))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec
}

// requireNoWorkflows requires that no workflow was stored.
func (s *server) requireNoWorkflows() {
	s.t.Helper()
	rec := s.do(http.MethodGet, "/v1/workflows", nil)
	s.requireStatus(http.StatusOK, rec)
	require.NotContains(s.t, rec.Body.String(), "pwned")
}

func TestCrossOriginWritesRefused(t *testing.T) {
	t.Parallel()
	s := setup(t)
	s.requireStatus(http.StatusCreated, s.do(http.MethodPost, "/v1/task-types",
		`{"name": "shell", "executor": "exec"}`))

	cases := []struct {
		name    string
		headers map[string]string
	}{
		// The request a stranger's page sends with a plain HTML form or a
		// "simple" fetch, from a browser without Sec-Fetch-Site.
		{"FormFromOtherOrigin", map[string]string{
			"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"}},
		{"JSONFromOtherOrigin", map[string]string{
			"Content-Type": "application/json", "Origin": "https://evil.example"}},
		{"SameHostOtherPort", map[string]string{
			"Content-Type": "application/json", "Origin": "http://example.com:8081"}},
		{"NullOrigin", map[string]string{
			"Content-Type": "text/plain", "Origin": "null"}},
		{"SecFetchSiteCrossSite", map[string]string{
			"Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site"}},
		{"SecFetchSiteSameSite", map[string]string{
			"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"}},
		// Sec-Fetch-Site wins over a forged-looking but matching Origin.
		{"CrossSiteWithMatchingOrigin", map[string]string{
			"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site", "Origin": "http://example.com"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := requireProblem(t, http.StatusForbidden, s.send(http.MethodPost, "/v1/workflows", execWorkflow, tc.headers))
			require.Contains(t, p.Detail, "cross-origin")
		})
	}
	s.requireNoWorkflows()

	// Actions without a body are refused too.
	requireProblem(t, http.StatusForbidden, s.send(http.MethodPost, "/v1/runs/1/cancel", "",
		map[string]string{"Sec-Fetch-Site": "cross-site"}))

	// Reading stays open to other origins (CORS decides what their scripts see).
	rec := s.send(http.MethodGet, "/v1/workflows", "", map[string]string{
		"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
	s.requireStatus(http.StatusOK, rec)
}

func TestSameOriginAndNonBrowserWritesAllowed(t *testing.T) {
	t.Parallel()
	s := setup(t)

	cases := []struct {
		name    string
		headers map[string]string
	}{
		{"SameOrigin", map[string]string{"Origin": "http://example.com"}},
		{"SecFetchSiteSameOrigin", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"}},
		{"SecFetchSiteNone", map[string]string{"Sec-Fetch-Site": "none"}},
		{"NoOrigin", map[string]string{}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.headers["Content-Type"] = "application/json"
			body := `{"name": "wf` + string(rune('a'+i)) + `", "steps": [{"name": "a", "type": "noop"}]}`
			s.requireStatus(http.StatusCreated, s.send(http.MethodPost, "/v1/workflows", body, tc.headers))
		})
	}
}

func TestNonJSONBodiesRefused(t *testing.T) {
	t.Parallel()
	s := setup(t)

	for _, ct := range []string{
		"application/x-www-form-urlencoded",
		"multipart/form-data; boundary=x",
		"text/plain;charset=UTF-8",
		"application/xml",
	} {
		t.Run(ct, func(t *testing.T) {
			p := requireProblem(t, http.StatusUnsupportedMediaType, s.send(http.MethodPost, "/v1/workflows",
				`{"name": "formed", "steps": [{"name": "a", "type": "noop"}]}`, map[string]string{"Content-Type": ct}))
			require.Contains(t, p.Detail, "application/json")
		})
	}
	rec := s.do(http.MethodGet, "/v1/workflows", nil)
	s.requireStatus(http.StatusOK, rec)
	require.NotContains(t, rec.Body.String(), "formed")

	// JSON, with parameters or as a +json type, is read.
	s.requireStatus(http.StatusCreated, s.send(http.MethodPost, "/v1/workflows",
		`{"name": "a", "steps": [{"name": "a", "type": "noop"}]}`, map[string]string{"Content-Type": "application/json; charset=utf-8"}))
	s.requireStatus(http.StatusCreated, s.send(http.MethodPost, "/v1/workflows",
		`{"name": "b", "steps": [{"name": "a", "type": "noop"}]}`, map[string]string{"Content-Type": "application/merge-patch+json"}))
}

func TestRequestLogLevels(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	h, _ := api.New(api.Options{
		Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		UI:     uiStub,
		Ready:  func(context.Context) error { return nil },
	})
	serve := func(method, path string, headers map[string]string) string {
		buf.Reset()
		req := httptest.NewRequest(method, path, nil)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
		return buf.String()
	}

	require.Contains(t, serve(http.MethodGet, "/dashboard", nil), "level=DEBUG msg=\"http request\"")
	require.Contains(t, serve(http.MethodGet, "/v1/nowhere", nil), "level=DEBUG msg=\"http request\"")
	require.Contains(t, serve(http.MethodPost, "/v1/runs", map[string]string{"Sec-Fetch-Site": "cross-site"}),
		"level=INFO msg=\"http request\"")
	require.Contains(t, serve(http.MethodGet, "/boom", nil), "level=ERROR msg=\"http request\"")
}
