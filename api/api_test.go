package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/testdb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// server is the API under test, on a fresh database holding the task type
// "noop".
type server struct {
	t *testing.T
	h http.Handler
}

// problem is an RFC 9457 body as the API writes it.
type problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Message  string `json:"message"`
		Location string `json:"location"`
	} `json:"errors"`
}

// uiStub stands in for the dashboard: it answers "ui" and panics on /boom.
var uiStub = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/boom" {
		panic("secret internals")
	}
	_, _ = w.Write([]byte("ui"))
})

func setup(t *testing.T) *server {
	t.Helper()
	eng := engine.New(testdb.NewPool(t), engine.Options{})
	h, _ := api.New(api.Options{
		Engine: eng,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
		UI:     uiStub,
	})
	s := &server{t: t, h: h}
	s.requireStatus(http.StatusCreated, s.do(http.MethodPost, "/v1/task-types",
		`{"name": "noop", "executor": "sleep", "defaults": {"duration": "0s"}}`))
	return s
}

// do sends a request with a JSON body (a string or a value to encode; nil
// for none) and returns the recorded response.
func (s *server) do(method, path string, body any) *httptest.ResponseRecorder {
	s.t.Helper()
	var reader *bytes.Reader
	switch b := body.(type) {
	case nil:
		reader = bytes.NewReader(nil)
	case string:
		reader = bytes.NewReader([]byte(b))
	default:
		data, err := json.Marshal(b)
		require.NoError(s.t, err)
		reader = bytes.NewReader(data)
	}
	req := httptest.NewRequest(method, path, reader)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec
}

func (s *server) requireStatus(status int, rec *httptest.ResponseRecorder) {
	s.t.Helper()
	require.Equal(s.t, status, rec.Code, "body: %s", rec.Body.String())
}

// decode requires status and decodes the body into a new T.
func decode[T any](s *server, status int, rec *httptest.ResponseRecorder) T {
	s.t.Helper()
	s.requireStatus(status, rec)
	var v T
	require.NoError(s.t, json.Unmarshal(rec.Body.Bytes(), &v), "body: %s", rec.Body.String())
	return v
}

// requireProblem requires a problem body with status and returns it.
func requireProblem(t *testing.T, status int, rec *httptest.ResponseRecorder) problem {
	t.Helper()
	require.Equal(t, status, rec.Code, "body: %s", rec.Body.String())
	require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	var p problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.Equal(t, status, p.Status)
	require.Equal(t, http.StatusText(status), p.Title)
	return p
}

// requireLocation requires a problem detail at location whose message
// contains text.
func requireLocation(t *testing.T, p problem, location, text string) {
	t.Helper()
	for _, e := range p.Errors {
		if e.Location == location && strings.Contains(e.Message, text) {
			return
		}
	}
	t.Fatalf("no error at %s containing %q in %+v", location, text, p.Errors)
}

const diamond = `{
	"name": "diamond",
	"description": "fan out, fan in",
	"tags": ["test"],
	"owner": "team-a",
	"steps": [
		{"name": "a", "type": "noop"},
		{"name": "b", "type": "noop", "depends_on": ["a"], "params": {"duration": "1ms"}},
		{"name": "c", "type": "noop", "depends_on": ["a"]},
		{"name": "d", "type": "noop", "depends_on": ["b", "c"], "when": "always"}
	]
}`

func TestTaskTypes(t *testing.T) {
	t.Parallel()
	s := setup(t)

	created := decode[api.TaskType](s, http.StatusCreated, s.do(http.MethodPost, "/v1/task-types",
		`{"name": "fetch", "executor": "http", "description": "GET a page", "max_retries": 5, "timeout": "30s", "priority": 1, "queue": "io"}`))
	require.Equal(t, "fetch", created.Name)
	require.Equal(t, "http", created.Executor)
	require.Equal(t, 5, created.MaxRetries)
	require.Equal(t, "30s", created.Timeout)
	require.EqualValues(t, 30000, created.TimeoutMs)
	require.Equal(t, 1, created.Priority)
	require.Equal(t, "io", created.Queue)
	require.Equal(t, []int{}, created.PermanentExitCodes)
	require.JSONEq(t, `{}`, string(mustJSON(t, created.Defaults)))

	// Applying again updates it, still with 201.
	updated := decode[api.TaskType](s, http.StatusCreated, s.do(http.MethodPost, "/v1/task-types",
		`{"name": "fetch", "executor": "http", "description": "GET a page, patiently"}`))
	require.Equal(t, "GET a page, patiently", updated.Description)
	require.Equal(t, 3, updated.MaxRetries)

	list := decode[api.TaskTypeList](s, http.StatusOK, s.do(http.MethodGet, "/v1/task-types", nil))
	require.Len(t, list.TaskTypes, 2)
	require.Equal(t, "fetch", list.TaskTypes[0].Name)
	require.Equal(t, "noop", list.TaskTypes[1].Name)
	require.JSONEq(t, `{"duration": "0s"}`, string(mustJSON(t, list.TaskTypes[1].Defaults)))

	got := decode[api.TaskType](s, http.StatusOK, s.do(http.MethodGet, "/v1/task-types/noop", nil))
	require.Equal(t, "sleep", got.Executor)

	p := requireProblem(t, http.StatusNotFound, s.do(http.MethodGet, "/v1/task-types/nope", nil))
	require.Contains(t, p.Detail, `"nope"`)

	p = requireProblem(t, http.StatusUnprocessableEntity, s.do(http.MethodPost, "/v1/task-types",
		`{"name": "bad", "executor": "teleport", "timeout": "soon"}`))
	requireLocation(t, p, "body.executor", `unknown executor "teleport"`)
	requireLocation(t, p, "body.timeout", `invalid duration "soon"`)

	// Huma's own validation: unknown fields and out-of-range priorities.
	requireProblem(t, http.StatusUnprocessableEntity, s.do(http.MethodPost, "/v1/task-types",
		`{"name": "bad", "executor": "sleep", "retries": 2}`))
	requireProblem(t, http.StatusUnprocessableEntity, s.do(http.MethodPost, "/v1/task-types",
		`{"name": "bad", "executor": "sleep", "priority": 5}`))
}

func TestWorkflows(t *testing.T) {
	t.Parallel()
	s := setup(t)

	v1 := decode[api.Workflow](s, http.StatusCreated, s.do(http.MethodPost, "/v1/workflows", diamond))
	require.Equal(t, "diamond", v1.Name)
	require.Equal(t, 1, v1.Version)
	require.Equal(t, 4, v1.Steps)
	require.Equal(t, 2, v1.Priority)
	require.Equal(t, []string{"test"}, v1.Tags)
	require.NotNil(t, v1.Definition)
	require.Len(t, v1.Definition.Steps, 4)
	require.Equal(t, []string{"b", "c"}, v1.Definition.Steps[3].DependsOn)

	// An identical definition stores nothing.
	same := decode[api.Workflow](s, http.StatusOK, s.do(http.MethodPost, "/v1/workflows", diamond))
	require.Equal(t, 1, same.Version)

	// A changed one is version 2.
	changed := strings.Replace(diamond, "fan out, fan in", "fan out and in", 1)
	v2 := decode[api.Workflow](s, http.StatusCreated, s.do(http.MethodPost, "/v1/workflows", changed))
	require.Equal(t, 2, v2.Version)

	latest := decode[api.Workflow](s, http.StatusOK, s.do(http.MethodGet, "/v1/workflows/diamond", nil))
	require.Equal(t, 2, latest.Version)
	require.Equal(t, "fan out and in", latest.Description)
	require.Equal(t, "fan out and in", latest.Definition.Description)
	require.JSONEq(t, `{"duration": "1ms"}`, string(mustJSON(t, latest.Definition.Steps[1].Params)))

	first := decode[api.Workflow](s, http.StatusOK, s.do(http.MethodGet, "/v1/workflows/diamond/versions/1", nil))
	require.Equal(t, 1, first.Version)
	require.Equal(t, "fan out, fan in", first.Description)

	requireProblem(t, http.StatusNotFound, s.do(http.MethodGet, "/v1/workflows/diamond/versions/3", nil))
	requireProblem(t, http.StatusNotFound, s.do(http.MethodGet, "/v1/workflows/nope", nil))
	requireProblem(t, http.StatusUnprocessableEntity, s.do(http.MethodGet, "/v1/workflows/diamond/versions/x", nil))

	decode[api.Workflow](s, http.StatusCreated, s.do(http.MethodPost, "/v1/workflows",
		`{"name": "single", "steps": [{"name": "only", "type": "noop"}]}`))
	list := decode[api.WorkflowList](s, http.StatusOK, s.do(http.MethodGet, "/v1/workflows", nil))
	require.Len(t, list.Workflows, 2)
	require.Equal(t, "diamond", list.Workflows[0].Name)
	require.Equal(t, 2, list.Workflows[0].Version)
	require.Equal(t, 4, list.Workflows[0].Steps)
	require.Nil(t, list.Workflows[0].Definition)
	require.Equal(t, "single", list.Workflows[1].Name)
	require.Equal(t, 1, list.Workflows[1].Steps)
	require.Contains(t, s.do(http.MethodGet, "/v1/workflows", nil).Body.String(), `"steps":4`)
}

func TestWorkflowProblems(t *testing.T) {
	t.Parallel()
	s := setup(t)

	p := requireProblem(t, http.StatusUnprocessableEntity, s.do(http.MethodPost, "/v1/workflows", `{
		"name": "loop",
		"steps": [
			{"name": "a", "type": "noop", "depends_on": ["b"]},
			{"name": "b", "type": "noop", "depends_on": ["a"]}
		]
	}`))
	require.Contains(t, p.Detail, "cycle: a -> b -> a")
	requireLocation(t, p, "body.steps[0].depends_on", "cycle: a -> b -> a")

	p = requireProblem(t, http.StatusUnprocessableEntity, s.do(http.MethodPost, "/v1/workflows",
		`{"name": "typo", "steps": [{"name": "a", "type": "nope"}]}`))
	require.Contains(t, p.Detail, `unknown task type "nope"`)
	requireLocation(t, p, "body.steps[0].type", `unknown task type "nope"`)

	// Huma rejects what the schema forbids before the engine sees it.
	p = requireProblem(t, http.StatusUnprocessableEntity, s.do(http.MethodPost, "/v1/workflows",
		`{"name": "x", "steps": [{"name": "a", "type": "noop", "when": "sometimes"}]}`))
	require.NotEmpty(t, p.Errors)
	requireProblem(t, http.StatusUnprocessableEntity, s.do(http.MethodPost, "/v1/workflows",
		`{"name": "x", "steps": [{"name": "a", "type": "noop", "params": [1]}]}`))
	requireProblem(t, http.StatusUnprocessableEntity, s.do(http.MethodPost, "/v1/workflows",
		`{"name": "x", "steps": [{"name": "a", "type": "noop", "retries": 2}]}`))

	// Nothing was stored.
	list := decode[api.WorkflowList](s, http.StatusOK, s.do(http.MethodGet, "/v1/workflows", nil))
	require.Empty(t, list.Workflows)
}

func TestStartAndGetRun(t *testing.T) {
	t.Parallel()
	s := setup(t)
	s.requireStatus(http.StatusCreated, s.do(http.MethodPost, "/v1/workflows", diamond))

	rec := s.do(http.MethodPost, "/v1/runs",
		`{"workflow": "diamond", "input": {"day": "2026-11-27", "big": 12345678901234567890}, "owner": "me", "tags": ["nightly"], "idempotency_key": "k-1"}`)
	started := decode[api.Run](s, http.StatusCreated, rec)
	require.Empty(t, rec.Header().Get("Idempotent-Replayed"))
	require.Equal(t, "diamond", started.Workflow)
	require.Equal(t, 1, started.WorkflowVersion)
	require.Equal(t, "api", started.Trigger)
	require.Equal(t, "k-1", started.IdempotencyKey)
	require.Equal(t, "me", started.Owner)
	require.Equal(t, []string{"nightly"}, started.Tags)
	require.Equal(t, 4, started.TasksTotal)
	require.Len(t, started.Tasks, 4)
	// Numbers pass through exactly.
	require.Contains(t, rec.Body.String(), `12345678901234567890`)

	got := decode[api.Run](s, http.StatusOK, s.do(http.MethodGet, fmt.Sprintf("/v1/runs/%d", started.ID), nil))
	require.Equal(t, started.ID, got.ID)
	require.Contains(t, []string{engine.RunQueued, engine.RunRunning}, got.Status)
	require.NotNil(t, got.StartedAt)
	require.Nil(t, got.FinishedAt)
	require.Equal(t, map[string]int{"queued": 1, "pending": 3}, got.TaskCounts)
	statuses := map[string]string{}
	for _, task := range got.Tasks {
		statuses[task.Step] = task.Status
	}
	require.Equal(t, map[string]string{"a": "queued", "b": "pending", "c": "pending", "d": "pending"}, statuses)
	b := got.Tasks[1]
	require.Equal(t, "b", b.Step)
	require.Equal(t, "noop", b.TaskType)
	require.Equal(t, "sleep", b.Executor)
	require.Equal(t, []string{"a"}, b.DependsOn)
	require.Equal(t, "on_success", b.When)
	require.JSONEq(t, `{"duration": "1ms"}`, string(mustJSON(t, b.Params)))
	require.Equal(t, []string{}, got.Tasks[0].DependsOn)
	require.Equal(t, "always", got.Tasks[3].When)

	// The same idempotency key with the same workflow and input replays the
	// first run.
	rec = s.do(http.MethodPost, "/v1/runs", `{"workflow": "diamond", "input": {"day": "2026-11-27", "big": 12345678901234567890}, "idempotency_key": "k-1"}`)
	replayed := decode[api.Run](s, http.StatusOK, rec)
	require.Equal(t, "true", rec.Header().Get("Idempotent-Replayed"))
	require.Equal(t, started.ID, replayed.ID)

	// A pinned version and a priority override.
	pinned := decode[api.Run](s, http.StatusCreated, s.do(http.MethodPost, "/v1/runs", `{"workflow": "diamond", "version": 1, "priority": 4}`))
	require.Equal(t, 4, pinned.Priority)
	require.NotEqual(t, started.ID, pinned.ID)

	p := requireProblem(t, http.StatusNotFound, s.do(http.MethodPost, "/v1/runs", `{"workflow": "ghost"}`))
	require.Contains(t, p.Detail, `"ghost"`)
	requireProblem(t, http.StatusNotFound, s.do(http.MethodPost, "/v1/runs", `{"workflow": "diamond", "version": 7}`))
	requireProblem(t, http.StatusNotFound, s.do(http.MethodGet, "/v1/runs/999999", nil))
	requireProblem(t, http.StatusUnprocessableEntity, s.do(http.MethodGet, "/v1/runs/abc", nil))

	for name, body := range map[string]string{
		"missing workflow":  `{"input": {}}`,
		"empty workflow":    `{"workflow": ""}`,
		"input not object":  `{"workflow": "diamond", "input": 5}`,
		"input is an array": `{"workflow": "diamond", "input": [1, 2]}`,
		"priority 9":        `{"workflow": "diamond", "priority": 9}`,
		"long key":          `{"workflow": "diamond", "idempotency_key": "` + strings.Repeat("k", 201) + `"}`,
		"unknown field":     `{"workflow": "diamond", "colour": "blue"}`,
		"not JSON":          `{"workflow": `,
	} {
		rec := s.do(http.MethodPost, "/v1/runs", body)
		require.Containsf(t, []int{http.StatusBadRequest, http.StatusUnprocessableEntity}, rec.Code, "%s: %s", name, rec.Body.String())
		if name != "not JSON" {
			requireProblem(t, http.StatusUnprocessableEntity, rec)
		}
	}
	p = requireProblem(t, http.StatusUnprocessableEntity, s.do(http.MethodPost, "/v1/runs", `{"priority": 9}`))
	requireLocation(t, p, "body.priority", "")
	requireLocation(t, p, "body", "workflow")

	// Nothing else was started.
	page := decode[api.RunList](s, http.StatusOK, s.do(http.MethodGet, "/v1/runs", nil))
	require.Len(t, page.Runs, 2)
}

func TestListRuns(t *testing.T) {
	t.Parallel()
	s := setup(t)
	s.requireStatus(http.StatusCreated, s.do(http.MethodPost, "/v1/workflows", diamond))
	s.requireStatus(http.StatusCreated, s.do(http.MethodPost, "/v1/workflows", `{"name": "single", "steps": [{"name": "only", "type": "noop"}]}`))

	var ids []int64
	for _, wf := range []string{"diamond", "single", "diamond", "diamond", "single"} {
		run := decode[api.Run](s, http.StatusCreated, s.do(http.MethodPost, "/v1/runs", map[string]any{"workflow": wf}))
		ids = append(ids, run.ID)
	}
	s.requireStatus(http.StatusOK, s.do(http.MethodPost, fmt.Sprintf("/v1/runs/%d/cancel", ids[2]), nil))

	all := decode[api.RunList](s, http.StatusOK, s.do(http.MethodGet, "/v1/runs", nil))
	require.Len(t, all.Runs, 5)
	require.Empty(t, all.NextCursor)
	require.Equal(t, ids[4], all.Runs[0].ID, "newest first")
	require.Nil(t, all.Runs[0].Tasks, "listings leave out tasks")
	require.Equal(t, map[string]int{"queued": 1}, all.Runs[0].TaskCounts)

	// Page through the diamond runs two at a time.
	var paged []int64
	cursor := ""
	for range 3 {
		page := decode[api.RunList](s, http.StatusOK, s.do(http.MethodGet, "/v1/runs?workflow=diamond&limit=2&cursor="+cursor, nil))
		for _, run := range page.Runs {
			require.Equal(t, "diamond", run.Workflow)
			paged = append(paged, run.ID)
		}
		cursor = page.NextCursor
		if cursor == "" {
			break
		}
	}
	require.Equal(t, []int64{ids[3], ids[2], ids[0]}, paged)

	cancelled := decode[api.RunList](s, http.StatusOK, s.do(http.MethodGet, "/v1/runs?status=cancelled", nil))
	require.Len(t, cancelled.Runs, 1)
	require.Equal(t, ids[2], cancelled.Runs[0].ID)

	single := decode[api.RunList](s, http.StatusOK, s.do(http.MethodGet, "/v1/runs?workflow=single&status="+all.Runs[0].Status, nil))
	require.Len(t, single.Runs, 2)

	for _, query := range []string{"status=done", "limit=0", "limit=501", "limit=ten", "cursor=bogus"} {
		requireProblem(t, http.StatusUnprocessableEntity, s.do(http.MethodGet, "/v1/runs?"+query, nil))
	}
}

func TestCancelRunAndEvents(t *testing.T) {
	t.Parallel()
	s := setup(t)
	s.requireStatus(http.StatusCreated, s.do(http.MethodPost, "/v1/workflows", diamond))
	run := decode[api.Run](s, http.StatusCreated, s.do(http.MethodPost, "/v1/runs", `{"workflow": "diamond"}`))
	path := fmt.Sprintf("/v1/runs/%d", run.ID)

	cancelled := decode[api.Run](s, http.StatusOK, s.do(http.MethodPost, path+"/cancel", nil))
	require.Equal(t, engine.RunCancelled, cancelled.Status)
	require.NotNil(t, cancelled.FinishedAt)
	for _, task := range cancelled.Tasks {
		require.Equal(t, engine.TaskCancelled, task.Status)
	}

	p := requireProblem(t, http.StatusConflict, s.do(http.MethodPost, path+"/cancel", nil))
	require.Equal(t, fmt.Sprintf("run %d already finished with status cancelled", run.ID), p.Detail)
	requireProblem(t, http.StatusNotFound, s.do(http.MethodPost, "/v1/runs/999999/cancel", nil))

	events := decode[api.EventList](s, http.StatusOK, s.do(http.MethodGet, path+"/events", nil))
	require.NotEmpty(t, events.Events)
	require.Equal(t, "run_started", events.Events[0].Kind)
	require.Equal(t, "run_cancelled", events.Events[len(events.Events)-1].Kind)
	for _, ev := range events.Events {
		require.Equal(t, run.ID, ev.RunID)
	}
	requireProblem(t, http.StatusNotFound, s.do(http.MethodGet, "/v1/runs/999999/events", nil))
}

func TestProbesAndRouting(t *testing.T) {
	t.Parallel()
	s := setup(t)

	rec := s.do(http.MethodGet, "/healthz", nil)
	s.requireStatus(http.StatusOK, rec)
	require.JSONEq(t, `{"status": "ok"}`, rec.Body.String())
	rec = s.do(http.MethodGet, "/readyz", nil)
	s.requireStatus(http.StatusOK, rec)
	require.JSONEq(t, `{"status": "ok"}`, rec.Body.String())

	rec = s.do(http.MethodGet, "/openapi.json", nil)
	s.requireStatus(http.StatusOK, rec)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
	require.Contains(t, doc["paths"], "/v1/runs")
	require.Equal(t, "Baton API", doc["info"].(map[string]any)["title"])
	rec = s.do(http.MethodGet, "/openapi.yaml", nil)
	s.requireStatus(http.StatusOK, rec)
	require.Contains(t, rec.Body.String(), "/v1/runs:")

	// Unknown routes under /v1 are problems; everything else goes to the UI
	// (a browser's page load of a path that is also an unversioned API
	// route, such as /runs/42, too).
	p := requireProblem(t, http.StatusNotFound, s.do(http.MethodGet, "/v1/nope", nil))
	require.Contains(t, p.Detail, "/v1/nope")
	requireProblem(t, http.StatusNotFound, s.do(http.MethodGet, "/v1", nil))
	for _, path := range []string{"/", "/docs", "/runs/42"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
		rec := httptest.NewRecorder()
		s.h.ServeHTTP(rec, req)
		s.requireStatus(http.StatusOK, rec)
		require.Equal(t, "ui", rec.Body.String(), path)
	}

	rec = s.do(http.MethodDelete, "/v1/runs", nil)
	requireProblem(t, http.StatusMethodNotAllowed, rec)
	require.Equal(t, "GET, POST", rec.Header().Get("Allow"))

	// A panic is a 500 problem that does not leak the panic value.
	rec = s.do(http.MethodGet, "/boom", nil)
	p = requireProblem(t, http.StatusInternalServerError, rec)
	require.NotContains(t, rec.Body.String(), "secret")
	require.Equal(t, "internal server error", p.Detail)
}

func TestWithoutUIAndNotReady(t *testing.T) {
	t.Parallel()
	h, _ := api.New(api.Options{
		Ready: func(context.Context) error { return errors.New("connection refused to 10.0.0.1") },
	})
	for path, status := range map[string]int{"/": http.StatusNotFound, "/docs": http.StatusNotFound, "/readyz": http.StatusServiceUnavailable} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		requireProblem(t, status, rec)
		require.NotContains(t, rec.Body.String(), "10.0.0.1")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	require.Equal(t, http.StatusOK, rec.Code)
}

func TestWriteSpecIsDeterministic(t *testing.T) {
	t.Parallel()
	first, second := t.TempDir(), t.TempDir()
	require.NoError(t, api.WriteSpec(first))
	require.NoError(t, api.WriteSpec(second))
	for _, name := range []string{"openapi.json", "openapi.yaml"} {
		a, err := os.ReadFile(filepath.Join(first, name))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(second, name))
		require.NoError(t, err)
		require.Equal(t, string(a), string(b), name)
		require.Contains(t, string(a), "/v1/runs")
	}
	var doc map[string]any
	data, err := os.ReadFile(filepath.Join(first, "openapi.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &doc))
	require.Equal(t, api.Version, doc["info"].(map[string]any)["version"])
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return data
}

// TestCommittedSpecIsFresh fails when api/openapi.json or api/openapi.yaml
// is stale: run `go generate ./api/` (make generate).
func TestCommittedSpecIsFresh(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, api.WriteSpec(dir))
	for _, name := range []string{"openapi.json", "openapi.yaml"} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		got, err := os.ReadFile(name)
		require.NoError(t, err)
		require.True(t, bytes.Equal(want, got), "%s is stale: run `go generate ./api/`", name)
	}
}
