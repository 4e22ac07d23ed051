package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/api"
)

// initialize is an MCP initialize request.
const initialize = `{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}}`

// TestMCPGate checks who reaches /mcp: a key of any role, not an anonymous
// caller the API would refuse, not a bad key, not a dashboard session
// (internal/mcpserver tests the tools themselves).
func TestMCPGate(t *testing.T) {
	t.Parallel()
	s := setupSecured(t, api.AnonymousLoopback)
	post := func(token string, mutate func(*http.Request)) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, api.MCPPath, strings.NewReader(initialize))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if mutate != nil {
			mutate(req)
		}
		rec := httptest.NewRecorder()
		s.h.ServeHTTP(rec, req)
		return rec
	}
	rec := post(s.tokens["viewer"], nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"serverInfo"`)

	// Anonymous: refused from another address, admitted from loopback
	// naming a loopback host (baton dev's rule).
	p := requireProblem(t, http.StatusUnauthorized, post("", nil))
	require.Contains(t, p.Detail, "loopback")
	rec = post("", func(r *http.Request) { r.RemoteAddr, r.Host = "127.0.0.1:5000", "localhost:8080" })
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	requireProblem(t, http.StatusUnauthorized, post("", func(r *http.Request) { r.RemoteAddr, r.Host = "127.0.0.1:5000", "evil.example" }))

	requireProblem(t, http.StatusUnauthorized, post("baton_notakey", nil))

	// A dashboard session is not an MCP credential.
	login := s.send(s.h, http.MethodPost, "/v2/sessions", "", `{"key": "`+s.tokens["admin"]+`"}`, nil)
	require.Equal(t, http.StatusCreated, login.Code, login.Body.String())
	cookie := login.Result().Cookies()[0]
	var sess struct {
		CSRFToken string `json:"csrf_token"`
	}
	require.NoError(t, json.Unmarshal(login.Body.Bytes(), &sess))
	requireProblem(t, http.StatusForbidden, post("", func(r *http.Request) { r.AddCookie(cookie) }))
	p = requireProblem(t, http.StatusUnauthorized, post("", func(r *http.Request) {
		r.AddCookie(cookie)
		r.Header.Set(api.CSRFHeader, sess.CSRFToken)
	}))
	require.Contains(t, p.Detail, "Authorization: Bearer")
}
