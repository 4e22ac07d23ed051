package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// requireNo5xx fails when rec answered a 5xx other than 503 (the database
// being unavailable is not a bug of the handler).
func requireNo5xx(t *testing.T, req badRequest, code int, body string) {
	t.Helper()
	if code >= 500 && code != http.StatusServiceUnavailable {
		t.Fatalf("%s %q -> %d: %s", req.method, req.path, code, body)
	}
}

// fuzzSeeds adds every bad request of faults A to C (and a good one) to f
// as (body, path, actor).
func fuzzSeeds(f *testing.F, method, path string) {
	f.Add([]byte(`{"workflow": "hello", "input": {"x": 1}}`), "hello", "ops")
	for _, req := range badRequests {
		body := req.body
		if req.method != method || req.path != path {
			body = ""
		}
		f.Add([]byte(body), strings.TrimPrefix(req.path, "/v1/"), req.actor)
	}
}

// FuzzStartRun sends start-run arbitrary bodies and actors, and GETs an
// arbitrary path under /v1/, through the real handler on a real database.
// No request may answer a 5xx (but 503) or panic, and the run listings must
// keep answering 200 whatever was started.
func FuzzStartRun(f *testing.F) {
	h := newHandler(f)
	fuzzSeeds(f, "POST", "/v1/runs")
	f.Fuzz(func(t *testing.T, body []byte, path, actor string) {
		for _, req := range []badRequest{
			{method: "POST", path: "/v1/runs", body: string(body), actor: actor},
			{method: "GET", path: "/v1/" + path, actor: actor},
			{method: "POST", path: "/v1/" + path, body: string(body), actor: actor},
		} {
			rec := serve(h, req)
			requireNo5xx(t, req, rec.Code, rec.Body.String())
		}
		for _, path := range []string{"/v1/runs", "/v1/attention"} {
			rec := serve(h, badRequest{method: "GET", path: path})
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s -> %d: %s", path, rec.Code, rec.Body.String())
			}
		}
	})
}

// FuzzApplyWorkflow applies arbitrary workflow and task-type bodies and GETs
// an arbitrary workflow path, through the real handler on a real database.
// No request may answer a 5xx (but 503) or panic.
func FuzzApplyWorkflow(f *testing.F) {
	h := newHandler(f)
	fuzzSeeds(f, "POST", "/v1/workflows")
	f.Add([]byte(`{"name": "w", "steps": [{"name": "a", "type": "noop", "params": {"x": "{{ .input.y }}"}}, {"name": "b", "type": "noop", "depends_on": ["a"]}]}`), "workflows/w/versions/1", "")
	f.Fuzz(func(t *testing.T, body []byte, path, actor string) {
		for _, req := range []badRequest{
			{method: "POST", path: "/v1/workflows", body: string(body), actor: actor},
			{method: "POST", path: "/v1/task-types", body: string(body), actor: actor},
			{method: "GET", path: "/v1/workflows/" + path},
			{method: "GET", path: "/v1/workflows"},
			{method: "GET", path: "/v1/task-types"},
		} {
			rec := serve(h, req)
			requireNo5xx(t, req, rec.Code, rec.Body.String())
		}
	})
}
