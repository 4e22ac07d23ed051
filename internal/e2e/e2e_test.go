package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/resilience"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/jobs"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"))
}

// env is an API server and worker clients on one fresh database.
type env struct {
	t        *testing.T
	eng      *engine.Engine
	breakers *resilience.Breakers
	api      *httptest.Server
}

// setup starts the API and `workers` River clients (nodes) on a fresh database.
func setup(t *testing.T, nodes, workersPerNode int) *env {
	t.Helper()
	pool := testdb.NewPool(t)
	eng := engine.New(pool, engine.Options{})
	breakers := resilience.NewBreakers(pool, resilience.Options{})
	var queues api.QueueController
	for i := range nodes {
		executors := executor.NewRegistry(executor.Options{AllowPrivateHTTP: true})
		t.Cleanup(executors.Close)
		client, err := jobs.NewClient(pool, jobs.ClientOptions{
			Engine: eng, Executors: executors, Breakers: breakers, Workers: workersPerNode,
			Node: fmt.Sprintf("node-%d", i+1), FetchPollInterval: 20 * time.Millisecond,
		})
		require.NoError(t, err)
		queues = client
		require.NoError(t, client.Start(context.Background()))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := client.Stop(ctx); err != nil {
				logStuckWork(t, pool)
				t.Fatalf("stop workers: %v", err)
			}
		})
	}
	handler, _ := api.New(api.Options{Engine: eng, Breakers: breakers, Queues: queues})
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	e := &env{t: t, eng: eng, breakers: breakers, api: srv}
	e.call(http.MethodPost, "/v1/task-types", `{"name":"noop","executor":"sleep","defaults":{"duration":"0s"}}`, http.StatusCreated, nil)
	return e
}

// call sends a request to the API and decodes the answer into out (when
// not nil), requiring the given status.
func (e *env) call(method, path, body string, status int, out any) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.api.URL+path, bytes.NewBufferString(body))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Baton-Actor", "operator@example.com")
	resp, err := e.api.Client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	require.Equal(e.t, status, resp.StatusCode, "%s %s: %s", method, path, raw)
	if out != nil {
		require.NoError(e.t, json.Unmarshal(raw, out))
	}
}

func (e *env) start(workflow, input string) int64 {
	e.t.Helper()
	var run api.Run
	e.call(http.MethodPost, "/v1/runs", fmt.Sprintf(`{"workflow":%q,"input":%s}`, workflow, input), http.StatusCreated, &run)
	return run.ID
}

func (e *env) run(id int64) api.Run {
	e.t.Helper()
	var run api.Run
	e.call(http.MethodGet, fmt.Sprintf("/v1/runs/%d", id), "", http.StatusOK, &run)
	return run
}

// waitFor polls the run until cond holds or the deadline passes.
func (e *env) waitFor(id int64, within time.Duration, what string, cond func(api.Run) bool) api.Run {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		run := e.run(id)
		if cond(run) {
			return run
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("run %d: %s not reached within %s; status %s, tasks %v", id, what, within, run.Status, taskStatuses(run))
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

func (e *env) waitStatus(id int64, within time.Duration, status string) api.Run {
	e.t.Helper()
	return e.waitFor(id, within, "status "+status, func(r api.Run) bool { return r.Status == status })
}

func taskStatuses(run api.Run) map[string]string {
	out := map[string]string{}
	for _, t := range run.Tasks {
		out[t.Step] = t.Status
	}
	return out
}

func task(run api.Run, step string) api.Task {
	for _, t := range run.Tasks {
		if t.Step == step {
			return t
		}
	}
	return api.Task{}
}

func TestRetriedHTTPStepShowsEveryAttempt(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n := calls.Add(1); n <= 2 {
			http.Error(w, fmt.Sprintf("overloaded (call %d)", n), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(target.Close)
	e := setup(t, 1, 5)
	e.call(http.MethodPost, "/v1/task-types", `{"name":"call","executor":"http","max_retries":3}`, http.StatusCreated, nil)
	e.call(http.MethodPost, "/v1/workflows", fmt.Sprintf(`{"name":"fetch","steps":[{"name":"get","type":"call","params":{"url":%q}}]}`, target.URL), http.StatusCreated, nil)

	id := e.start("fetch", "{}")
	run := e.waitStatus(id, 20*time.Second, "succeeded") // backoff 1 s + 2 s
	require.Equal(t, 3, task(run, "get").Attempts)

	var attempts api.AttemptList
	e.call(http.MethodGet, fmt.Sprintf("/v1/runs/%d/tasks/get/attempts", id), "", http.StatusOK, &attempts)
	require.Len(t, attempts.Events, 3)
	for i, ev := range attempts.Events[:2] {
		require.Equal(t, "task_attempt_failed", ev.Kind)
		require.Equal(t, i+1, *ev.Attempt)
		require.Equal(t, "transient", ev.ErrorClass)
		require.Contains(t, ev.Error, "503")
		require.Contains(t, string(ev.Data), "next_retry_at")
		require.Equal(t, "node-1", ev.Node)
		require.NotNil(t, ev.DurationMs)
	}
	require.Equal(t, "task_succeeded", attempts.Events[2].Kind)
	require.Equal(t, 3, *attempts.Events[2].Attempt)
	require.EqualValues(t, 3, calls.Load())
}

func TestPermanentErrorGoesToDeadLetterQueueAndResubmitFixesTheRun(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Query().Get("token") != "good" {
			http.Error(w, "missing or bad token", http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(`{"deployed":true}`))
	}))
	t.Cleanup(target.Close)
	e := setup(t, 1, 5)
	e.call(http.MethodPost, "/v1/task-types", `{"name":"call","executor":"http","max_retries":3}`, http.StatusCreated, nil)
	e.call(http.MethodPost, "/v1/workflows", fmt.Sprintf(`{"name":"deploy","steps":[
		{"name":"deploy","type":"call","params":{"url":"%s/deploy?token=bad"}},
		{"name":"smoke","type":"noop","depends_on":["deploy"]}]}`, target.URL), http.StatusCreated, nil)

	id := e.start("deploy", "{}")
	run := e.waitStatus(id, 20*time.Second, "failed")
	require.Equal(t, "dead", task(run, "deploy").Status)
	require.Equal(t, 1, task(run, "deploy").Attempts, "a permanent error is not retried")
	require.EqualValues(t, 1, calls.Load())
	require.Contains(t, run.Attention, "step deploy is dead")

	var list api.DeadLetterList
	e.call(http.MethodGet, "/v1/dead-letters?workflow=deploy&error_class=permanent", "", http.StatusOK, &list)
	require.Len(t, list.DeadLetters, 1)
	dl := list.DeadLetters[0]
	require.Equal(t, "deploy", dl.Step)
	require.Equal(t, "call", dl.TaskType)
	require.Contains(t, dl.Error, "400")
	var stats api.DeadLetterStats
	e.call(http.MethodGet, "/v1/dead-letters/stats", "", http.StatusOK, &stats)
	require.EqualValues(t, 1, stats.Size)
	var attention api.AttentionList
	e.call(http.MethodGet, "/v1/attention", "", http.StatusOK, &attention)
	require.Len(t, attention.Runs, 1)

	var res api.ResubmitResult
	e.call(http.MethodPost, fmt.Sprintf("/v1/dead-letters/%d/resubmit", dl.ID),
		fmt.Sprintf(`{"params":{"url":"%s/deploy?token=good"}}`, target.URL), http.StatusOK, &res)
	require.Equal(t, id, res.Run.ID)
	run = e.waitStatus(id, 20*time.Second, "succeeded")
	require.Equal(t, "succeeded", task(run, "smoke").Status)
	require.Empty(t, run.Attention)
	e.call(http.MethodGet, fmt.Sprintf("/v1/dead-letters/%d", dl.ID), "", http.StatusNotFound, nil)
}

func TestPauseAndResumeThroughTheAPI(t *testing.T) {
	t.Parallel()
	e := setup(t, 1, 5)
	e.call(http.MethodPost, "/v1/workflows", `{"name":"two","steps":[
		{"name":"first","type":"noop","params":{"duration":"400ms"}},
		{"name":"second","type":"noop","depends_on":["first"]}]}`, http.StatusCreated, nil)
	id := e.start("two", "{}")
	e.waitFor(id, 10*time.Second, "first running", func(r api.Run) bool { return task(r, "first").Status == "running" })

	var run api.Run
	e.call(http.MethodPost, fmt.Sprintf("/v1/runs/%d/pause", id), "", http.StatusOK, &run)
	require.Equal(t, "paused", run.Status)
	run = e.waitFor(id, 10*time.Second, "first finished", func(r api.Run) bool { return task(r, "first").Status == "succeeded" })
	require.Equal(t, "paused", run.Status, "the running task finished; the run stays paused")
	require.Equal(t, "pending", task(run, "second").Status, "nothing new starts while paused")
	e.call(http.MethodPost, fmt.Sprintf("/v1/runs/%d/pause", id), "", http.StatusConflict, nil)

	e.call(http.MethodPost, fmt.Sprintf("/v1/runs/%d/resume", id), "", http.StatusOK, &run)
	run = e.waitStatus(id, 10*time.Second, "succeeded")
	require.Equal(t, "succeeded", task(run, "second").Status)
	var events api.EventList
	e.call(http.MethodGet, fmt.Sprintf("/v1/runs/%d/events", id), "", http.StatusOK, &events)
	var actors []string
	for _, ev := range events.Events {
		if ev.Kind == "run_paused" || ev.Kind == "run_resumed" {
			actors = append(actors, ev.Kind+" by "+ev.Actor)
		}
	}
	require.Equal(t, []string{"run_paused by operator@example.com", "run_resumed by operator@example.com"}, actors)
}

func TestSkipAndRetryWithNewParamsThroughTheAPI(t *testing.T) {
	t.Parallel()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/report" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"rows":42}`))
	}))
	t.Cleanup(target.Close)
	e := setup(t, 1, 5)
	e.call(http.MethodPost, "/v1/task-types", `{"name":"call","executor":"http"}`, http.StatusCreated, nil)
	e.call(http.MethodPost, "/v1/workflows", fmt.Sprintf(`{"name":"report","steps":[
		{"name":"optional-ping","type":"call","params":{"url":"%[1]s/ping"}},
		{"name":"fetch","type":"call","params":{"url":"%[1]s/v1/report"}},
		{"name":"publish","type":"noop","depends_on":["fetch","optional-ping"]}]}`, target.URL), http.StatusCreated, nil)
	id := e.start("report", "{}")
	run := e.waitStatus(id, 20*time.Second, "failed")
	require.Equal(t, map[string]string{"optional-ping": "dead", "fetch": "dead", "publish": "skipped"}, taskStatuses(run))

	// Skip the ping: publish still waits for fetch.
	e.call(http.MethodPost, fmt.Sprintf("/v1/runs/%d/tasks/optional-ping/skip", id), "", http.StatusOK, &run)
	require.Equal(t, "skipped", task(run, "optional-ping").Status)
	require.True(t, task(run, "optional-ping").ManualSkip)
	// Retry fetch at the right URL: the run continues and succeeds.
	e.call(http.MethodPost, fmt.Sprintf("/v1/runs/%d/tasks/fetch/retry", id),
		fmt.Sprintf(`{"params":{"url":"%s/v2/report"}}`, target.URL), http.StatusOK, &run)
	run = e.waitStatus(id, 20*time.Second, "succeeded")
	require.Equal(t, "succeeded", task(run, "publish").Status)
	require.JSONEq(t, `{"rows":42}`, string(mustField(t, task(run, "fetch").Output, "body")))
	e.call(http.MethodPost, fmt.Sprintf("/v1/runs/%d/tasks/fetch/retry", id), "", http.StatusConflict, nil)
	e.call(http.MethodPost, fmt.Sprintf("/v1/runs/%d/tasks/nope/retry", id), "", http.StatusNotFound, nil)
}

func TestCancelThroughTheAPI(t *testing.T) {
	t.Parallel()
	e := setup(t, 1, 5)
	e.call(http.MethodPost, "/v1/workflows", `{"name":"slow","steps":[
		{"name":"wait","type":"noop","params":{"duration":"1m"}},
		{"name":"after","type":"noop","depends_on":["wait"]}]}`, http.StatusCreated, nil)
	id := e.start("slow", "{}")
	e.waitFor(id, 10*time.Second, "wait running", func(r api.Run) bool { return task(r, "wait").Status == "running" })
	var run api.Run
	e.call(http.MethodPost, fmt.Sprintf("/v1/runs/%d/cancel", id), "", http.StatusOK, &run)
	require.Equal(t, "cancelled", run.Status)
	require.Equal(t, map[string]string{"wait": "cancelled", "after": "cancelled"}, taskStatuses(run))
	e.call(http.MethodPost, fmt.Sprintf("/v1/runs/%d/cancel", id), "", http.StatusConflict, nil)
	// The running minute-long attempt is interrupted, not left to finish.
	e.waitJobState(t, *task(run, "wait").RiverJobID, "cancelled", 20*time.Second)

	// A task alone can be cancelled too; its dependents are skipped.
	id = e.start("slow", "{}")
	e.call(http.MethodPost, fmt.Sprintf("/v1/runs/%d/tasks/wait/cancel", id), "", http.StatusOK, &run)
	run = e.waitStatus(id, 10*time.Second, "failed")
	require.Equal(t, map[string]string{"wait": "cancelled", "after": "skipped"}, taskStatuses(run))
}

func mustField(t *testing.T, raw json.RawMessage, field string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m))
	return m[field]
}

// callLog records when a test target was called.
type callLog struct {
	mu    sync.Mutex
	times []time.Time
}

func (c *callLog) add() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.times = append(c.times, time.Now())
}

func (c *callLog) snapshot() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.times...)
}

func TestPauseAndResumeAQueue(t *testing.T) {
	t.Parallel()
	e := setup(t, 1, 2)
	// The default queue (other queues, such as the SLA check's, are listed too).
	defaultQueue := func() *api.Queue {
		var queues api.QueueList
		e.call(http.MethodGet, "/v1/queues", "", http.StatusOK, &queues)
		for i := range queues.Queues {
			if queues.Queues[i].Name == "default" {
				return &queues.Queues[i]
			}
		}
		return nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for defaultQueue() == nil { // a node registers its queues shortly after starting
		require.True(t, time.Now().Before(deadline), "no queue registered")
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	require.False(t, defaultQueue().Paused)

	e.call(http.MethodPost, "/v1/queues/default/pause", "", http.StatusNoContent, nil)
	require.True(t, defaultQueue().Paused)
	e.call(http.MethodPost, "/v1/queues/default/resume", "", http.StatusNoContent, nil)
	require.False(t, defaultQueue().Paused)
	e.call(http.MethodPost, "/v1/queues/nope/pause", "", http.StatusNotFound, nil)

	var actions []string
	events, err := e.eng.Pool().Query(context.Background(),
		"SELECT kind || ' ' || queue || ' by ' || actor FROM baton.task_events WHERE run_id IS NULL ORDER BY id")
	require.NoError(t, err)
	defer events.Close()
	for events.Next() {
		var a string
		require.NoError(t, events.Scan(&a))
		actions = append(actions, a)
	}
	require.Equal(t, []string{"queue_paused default by operator@example.com", "queue_resumed default by operator@example.com"}, actions)
}

func TestRetryAfterHintDelaysTheRetry(t *testing.T) {
	t.Parallel()
	calls := &callLog{}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.add()
		if len(calls.snapshot()) == 1 {
			w.Header().Set("Retry-After", "3")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(target.Close)
	e := setup(t, 1, 2)
	e.call(http.MethodPost, "/v1/task-types", `{"name":"call","executor":"http"}`, http.StatusCreated, nil)
	e.call(http.MethodPost, "/v1/workflows", fmt.Sprintf(`{"name":"polite","steps":[{"name":"get","type":"call","params":{"url":%q}}]}`, target.URL), http.StatusCreated, nil)
	id := e.start("polite", "{}")
	run := e.waitStatus(id, 20*time.Second, "succeeded")
	require.Equal(t, 2, task(run, "get").Attempts)
	times := calls.snapshot()
	require.Len(t, times, 2)
	// The backoff alone would retry after 1 s; the hint asked for 3 s.
	require.GreaterOrEqual(t, times[1].Sub(times[0]), 2900*time.Millisecond)
}

// waitJobState polls a River job until it reaches state.
func (e *env) waitJobState(t *testing.T, jobID int64, state string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var got string
		require.NoError(t, e.eng.Pool().QueryRow(context.Background(), "SELECT state FROM river_job WHERE id = $1", jobID).Scan(&got))
		if got == state {
			return
		}
		require.True(t, time.Now().Before(deadline), "job %d is %s, not %s, after %s", jobID, got, state, within)
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// logStuckWork logs what kept the workers from stopping: the River jobs
// still running, and every goroutine's stack.
func logStuckWork(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	rows, err := pool.Query(context.Background(),
		`SELECT id, kind, attempt, attempted_at, args::text FROM river_job WHERE state = 'running' ORDER BY id`)
	if err == nil {
		for rows.Next() {
			var (
				id, attempt int64
				kind, args  string
				at          *time.Time
			)
			if rows.Scan(&id, &kind, &attempt, &at, &args) == nil {
				t.Logf("still running: job %d %s attempt %d since %v: %s", id, kind, attempt, at, args)
			}
		}
		rows.Close()
	}
	var stacks strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
	t.Logf("goroutines:\n%s", stacks.String())
}
