package jobs_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/jobs"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"))
}

type harness struct {
	eng       *engine.Engine
	executors *executor.Registry
}

// setup starts a River client with Baton's workers on a fresh database.
func setup(t *testing.T) *harness {
	t.Helper()
	return setupWith(t, nil, nil)
}

// setupWith is setup with Go task functions registered before the client
// starts and client options changed by configure.
func setupWith(t *testing.T, funcs map[string]executor.GoFunc, configure func(*jobs.ClientOptions)) *harness {
	t.Helper()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	executors := executor.NewRegistry(executor.Options{AllowPrivateHTTP: true})
	t.Cleanup(executors.Close)
	for name, fn := range funcs {
		require.NoError(t, executors.RegisterFunc(name, fn))
	}
	eng := engine.New(pool, engine.Options{})
	opts := jobs.ClientOptions{Engine: eng, Executors: executors, Workers: 20}
	if configure != nil {
		configure(&opts)
	}
	startClient(t, pool, opts)
	for _, tt := range []engine.TaskTypeSpec{
		{Name: "noop", Executor: "sleep", Defaults: json.RawMessage(`{"duration":"0s"}`)},
		{Name: "call", Executor: "http", MaxRetries: ptr(3)},
		{Name: "fragile", Executor: "sim", MaxRetries: ptr(0)},
	} {
		_, err := eng.ApplyTaskType(ctx, &tt)
		require.NoError(t, err)
	}
	return &harness{eng: eng, executors: executors}
}

func (h *harness) apply(t *testing.T, def string) {
	t.Helper()
	spec, err := engine.ParseSpec([]byte(def))
	require.NoError(t, err)
	_, _, err = h.eng.ApplyWorkflow(context.Background(), spec.(*engine.WorkflowSpec))
	require.NoError(t, err)
}

// waitRun polls the run until it finishes or the deadline passes.
func (h *harness) waitRun(t *testing.T, id int64, within time.Duration) *engine.Run {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		run, err := h.eng.GetRun(context.Background(), id)
		require.NoError(t, err)
		switch run.Status {
		case engine.RunSucceeded, engine.RunFailed, engine.RunCancelled:
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %d still %s after %s", id, run.Status, within)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not a wait for work
	}
}

func ptr[T any](v T) *T { return &v }

// startClient starts a River client with Baton's workers on pool, stopped
// (running tasks let finish) when t ends.
func startClient(t *testing.T, pool *pgxpool.Pool, opts jobs.ClientOptions) {
	t.Helper()
	client, err := jobs.NewClient(pool, opts)
	require.NoError(t, err)
	require.NoError(t, client.Start(context.Background()))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, client.Stop(stopCtx))
	})
}

func taskByStep(run *engine.Run, step string) *engine.Task {
	for _, task := range run.Tasks {
		if task.Step == step {
			return task
		}
	}
	return nil
}

func TestRunsToCompletionWithTemplates(t *testing.T) {
	t.Parallel()
	h := setup(t)
	var gotPath atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath.Store(r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"url":"https://example.test/artifact"}`))
	}))
	t.Cleanup(srv.Close)

	h.apply(t, `
name: pipeline
steps:
  - {name: checkout, type: noop}
  - {name: build, type: call, depends_on: [checkout], params: {url: "`+srv.URL+`/build/{{ .input.day }}"}}
  - {name: test-a, type: noop, depends_on: [build]}
  - {name: test-b, type: noop, depends_on: [build]}
  - {name: publish, type: noop, depends_on: [test-a, test-b], params: {duration: "{{ if .steps.build.output.body.url }}0s{{ end }}"}}
`)
	run, _, err := h.eng.StartRun(context.Background(), engine.StartParams{Workflow: "pipeline", Input: json.RawMessage(`{"day":"2026-11-27"}`)})
	require.NoError(t, err)
	final := h.waitRun(t, run.ID, 20*time.Second)
	require.Equal(t, engine.RunSucceeded, final.Status, final.Error)
	require.Equal(t, "/build/2026-11-27", gotPath.Load())
	for _, task := range final.Tasks {
		require.Equal(t, engine.TaskSucceeded, task.Status, task.Step)
		require.Equal(t, 1, task.Attempts)
		require.NotNil(t, task.StartedAt)
	}
	require.JSONEq(t, `{"duration":"0s"}`, string(taskByStep(final, "publish").ResolvedParams))
}

func TestTransientErrorsAreRetried(t *testing.T) {
	t.Parallel()
	h := setup(t)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	h.apply(t, "name: flaky\nsteps: [{name: call, type: call, params: {url: \""+srv.URL+"\"}}]\n")

	run, _, err := h.eng.StartRun(context.Background(), engine.StartParams{Workflow: "flaky"})
	require.NoError(t, err)
	final := h.waitRun(t, run.ID, 20*time.Second) // backoff 1 s + 2 s
	require.Equal(t, engine.RunSucceeded, final.Status)
	require.Equal(t, 3, final.Tasks[0].Attempts)
	require.EqualValues(t, 3, calls.Load())

	events, err := h.eng.ListEvents(context.Background(), run.ID)
	require.NoError(t, err)
	var kinds []string
	for _, ev := range events {
		if ev.TaskID != nil {
			kinds = append(kinds, ev.Kind)
		}
	}
	require.Equal(t, []string{"task_attempt_failed", "task_attempt_failed", "task_succeeded"}, kinds)
}

func TestPermanentFailureRunsOnFailureBranch(t *testing.T) {
	t.Parallel()
	h := setup(t)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "bad request", http.StatusBadRequest)
	}))
	t.Cleanup(srv.Close)
	h.apply(t, `
name: deploy
steps:
  - {name: deploy, type: call, params: {url: "`+srv.URL+`"}}
  - {name: smoke, type: noop, depends_on: [deploy]}
  - {name: rollback, type: noop, depends_on: [deploy], when: on_failure}
`)
	run, _, err := h.eng.StartRun(context.Background(), engine.StartParams{Workflow: "deploy"})
	require.NoError(t, err)
	final := h.waitRun(t, run.ID, 20*time.Second)
	require.Equal(t, engine.RunFailed, final.Status)
	require.EqualValues(t, 1, calls.Load(), "a permanent error is not retried")
	deploy := taskByStep(final, "deploy")
	require.Equal(t, engine.TaskDead, deploy.Status)
	require.Equal(t, "permanent", deploy.ErrorClass)
	require.Contains(t, deploy.Error, "400")
	require.Equal(t, engine.TaskSkipped, taskByStep(final, "smoke").Status)
	require.Equal(t, engine.TaskSucceeded, taskByStep(final, "rollback").Status)
}

func TestExhaustedRetriesFailTheTask(t *testing.T) {
	t.Parallel()
	h := setup(t)
	h.apply(t, "name: doomed\nsteps: [{name: roll, type: fragile, params: {fail_rate: 1}}]\n")
	run, _, err := h.eng.StartRun(context.Background(), engine.StartParams{Workflow: "doomed"})
	require.NoError(t, err)
	final := h.waitRun(t, run.ID, 20*time.Second)
	require.Equal(t, engine.RunFailed, final.Status)
	require.Equal(t, "transient", final.Tasks[0].ErrorClass)
	require.Equal(t, 1, final.Tasks[0].Attempts)
}

func TestSQLStartIsPickedUpQuickly(t *testing.T) {
	t.Parallel()
	h := setup(t)
	h.apply(t, "name: hello\nsteps: [{name: greet, type: noop}]\n")
	var id int64
	start := time.Now()
	require.NoError(t, h.eng.Pool().QueryRow(context.Background(), "SELECT baton.start_run('hello')").Scan(&id))
	final := h.waitRun(t, id, 2*time.Second)
	require.Equal(t, engine.RunSucceeded, final.Status)
	t.Logf("SQL start to succeeded: %s", time.Since(start))
}

// TestTemplateLimitIsPermanent renders a template that passes validation but
// ranges over a number taken from the run input: the task dies on its first
// attempt, with an error naming the step and the rule, and its run fails
// long before the template could have finished.
func TestTemplateLimitIsPermanent(t *testing.T) {
	t.Parallel()
	h := setup(t)
	h.apply(t, `
name: spin
steps:
  - {name: build, type: call, timeout: 1s, params: {url: "http://127.0.0.1:1/{{ range .input.n }}{{ end }}done"}}
`)
	start := time.Now()
	run, _, err := h.eng.StartRun(context.Background(), engine.StartParams{Workflow: "spin", Input: json.RawMessage(`{"n": 150000000}`)})
	require.NoError(t, err)
	final := h.waitRun(t, run.ID, 20*time.Second)
	require.Less(t, time.Since(start), 10*time.Second)
	require.Equal(t, engine.RunFailed, final.Status)
	build := taskByStep(final, "build")
	require.Equal(t, engine.TaskDead, build.Status)
	require.Equal(t, "permanent", build.ErrorClass)
	require.Equal(t, 1, build.Attempts, "a template error is not retried")
	require.Equal(t, `step "build": params.url: range over a number is not allowed; range over a list or an object`, build.Error)
}
