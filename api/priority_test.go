package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/testdb"
)

// TestPriorityOverrideAPI: POST /v1/runs/{id}/priority and
// /v1/runs/{id}/tasks/{step}/priority change the waiting River job's
// priority in place and record X-Baton-Actor; a priority outside 1..4 is a
// 422 naming body.priority, a finished task or run a 409, an unknown run 404.
func TestPriorityOverrideAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	eng := engine.New(pool, engine.Options{})
	h, _ := api.New(api.Options{Engine: eng, Logger: slog.New(slog.NewTextHandler(t.Output(), nil)), UI: uiStub})
	s := &server{t: t, h: h}
	s.requireStatus(http.StatusCreated, s.do(http.MethodPost, "/v1/task-types",
		`{"name": "noop", "executor": "sleep", "defaults": {"duration": "0s"}}`))
	s.requireStatus(http.StatusCreated, s.do(http.MethodPost, "/v1/workflows",
		`{"name": "pair", "sla": "1h", "steps": [{"name": "a", "type": "noop"}, {"name": "b", "type": "noop", "depends_on": ["a"]}]}`))
	run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "pair"})
	require.NoError(t, err)

	post := func(path, body, actor string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if actor != "" {
			req.Header.Set("X-Baton-Actor", actor)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	jobPriority := func() (p int) {
		require.NoError(t, pool.QueryRow(ctx, `SELECT j.priority FROM baton.run_tasks t JOIN public.river_job j ON j.id = t.river_job_id
			WHERE t.run_id = $1 AND t.step_name = 'a'`, run.ID).Scan(&p))
		return p
	}
	actorOf := func(kind string) (actor string) {
		require.NoError(t, pool.QueryRow(ctx, `SELECT actor FROM baton.task_events WHERE run_id = $1 AND kind = $2`, run.ID, kind).Scan(&actor))
		return actor
	}
	runPath := "/v1/runs/" + itoa(run.ID)
	shown := decode[api.Run](s, http.StatusOK, s.do(http.MethodGet, runPath, nil))
	require.Equal(t, "open", shown.SLAState)
	require.Equal(t, time.Hour, shown.SLADeadline.Sub(shown.CreatedAt), "deadline = created_at + sla")
	wf := decode[api.Workflow](s, http.StatusOK, s.do(http.MethodGet, "/v1/workflows/pair", nil))
	require.Equal(t, "1h", wf.Definition.SLA)
	p := requireProblem(t, http.StatusUnprocessableEntity, s.do(http.MethodPost, "/v1/workflows",
		`{"name": "bad", "sla": "soon", "steps": [{"name": "a", "type": "noop"}]}`))
	requireLocation(t, p, "body.sla", "duration")

	got := decode[api.PriorityChange](s, http.StatusOK, post(runPath+"/priority", `{"priority": 1}`, "alice"))
	require.Equal(t, api.PriorityChange{RunID: run.ID, Priority: 1, JobsUpdated: 1}, got)
	require.Equal(t, 1, jobPriority())
	require.Equal(t, "alice", actorOf("run_priority_changed"))

	got = decode[api.PriorityChange](s, http.StatusOK, post(runPath+"/tasks/a/priority", `{"priority": 3}`, "bob"))
	require.Equal(t, 3, got.Priority)
	require.Equal(t, 1, got.JobsUpdated)
	require.Equal(t, 3, jobPriority())
	require.Equal(t, "bob", actorOf("task_priority_changed"))

	for _, body := range []string{`{"priority": 5}`, `{"priority": 0}`, `{"priority": "high"}`} {
		p := requireProblem(t, http.StatusUnprocessableEntity, post(runPath+"/priority", body, ""))
		requireLocation(t, p, "body.priority", "")
		p = requireProblem(t, http.StatusUnprocessableEntity, post(runPath+"/tasks/a/priority", body, ""))
		requireLocation(t, p, "body.priority", "")
	}
	p = requireProblem(t, http.StatusUnprocessableEntity, post(runPath+"/priority", `{}`, ""))
	requireLocation(t, p, "body", "priority")
	requireProblem(t, http.StatusNotFound, post("/v1/runs/999999/priority", `{"priority": 1}`, ""))
	requireProblem(t, http.StatusNotFound, post(runPath+"/tasks/nope/priority", `{"priority": 1}`, ""))

	task, err := eng.GetTask(ctx, run.ID, "a")
	require.NoError(t, err)
	_, err = eng.SucceedTasks(ctx, []engine.Attempt{{TaskID: task.ID, Attempt: 1}}, nil)
	require.NoError(t, err)
	p = requireProblem(t, http.StatusConflict, post(runPath+"/tasks/a/priority", `{"priority": 1}`, ""))
	require.Contains(t, p.Detail, "already finished")
	_, err = eng.CancelRun(ctx, run.ID, "alice")
	require.NoError(t, err)
	requireProblem(t, http.StatusConflict, post(runPath+"/priority", `{"priority": 1}`, ""))
}
