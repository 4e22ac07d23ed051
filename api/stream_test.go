package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/db/devcluster"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/stream"
	"github.com/baton-run/baton/internal/testdb"
)

// streamServer is the API with a running hub behind a real HTTP server.
type streamServer struct {
	t    *testing.T
	url  string
	pool *pgxpool.Pool
	hub  *stream.Hub
}

// setupStream starts a hub on a fresh database (task type noop, workflows
// wf-a and wf-b of one step) and serves the API over HTTP. Cleanup stops
// both and waits for the hub.
func setupStream(t *testing.T, opts stream.Options) *streamServer {
	t.Helper()
	pool := testdb.NewPool(t)
	return serveStream(t, pool, opts)
}

func serveStream(t *testing.T, pool *pgxpool.Pool, opts stream.Options) *streamServer {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts.Logger = logger
	hub := stream.New(pool, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = hub.Run(ctx) }()
	h, _ := api.New(api.Options{Engine: engine.New(pool, engine.Options{}), Stream: hub, Logger: logger})
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	s := &streamServer{t: t, url: srv.URL, pool: pool, hub: hub}
	require.Eventually(t, hub.Ready, 10*time.Second, 5*time.Millisecond)
	return s
}

func (s *streamServer) post(path, body string) []byte {
	s.t.Helper()
	resp, err := http.Post(s.url+path, "application/json", strings.NewReader(body))
	require.NoError(s.t, err)
	defer resp.Body.Close()
	var buf strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&buf)
	require.Less(s.t, resp.StatusCode, 300, "POST %s: %s", path, buf.String())
	return []byte(buf.String())
}

func (s *streamServer) workflows() {
	s.post("/v1/task-types", `{"name": "noop", "executor": "sleep", "defaults": {"duration": "0s"}}`)
	for _, name := range []string{"wf-a", "wf-b"} {
		s.post("/v1/workflows", fmt.Sprintf(`{"name": %q, "steps": [{"name": "only", "type": "noop"}]}`, name))
	}
}

// startRun starts a run of workflow (writing one run_started event) and
// returns its id.
func (s *streamServer) startRun(workflow string) int64 {
	s.t.Helper()
	var run struct{ ID int64 }
	require.NoError(s.t, json.Unmarshal(s.post("/v1/runs", fmt.Sprintf(`{"workflow": %q}`, workflow)), &run))
	return run.ID
}

// sseEvent is one parsed SSE message.
type sseEvent struct {
	ID    int64
	Event string
	Data  api.StreamEvent
}

// sseClient reads a stream in a goroutine.
type sseClient struct {
	t      *testing.T
	resp   *http.Response
	cancel context.CancelFunc
	events chan sseEvent
	retry  chan int
	beats  chan struct{}
	done   chan struct{}
}

// connect opens the stream at path (query included) with lastID as
// Last-Event-ID when not zero, and waits for its opening (retry field).
func (s *streamServer) connect(path string, lastID int64) *sseClient {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+path, nil)
	require.NoError(s.t, err)
	req.Header.Set("Accept", "text/event-stream")
	if lastID != 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(lastID, 10))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	require.Equal(s.t, http.StatusOK, resp.StatusCode)
	require.Equal(s.t, "text/event-stream", resp.Header.Get("Content-Type"))
	c := &sseClient{t: s.t, resp: resp, cancel: cancel, events: make(chan sseEvent, 10000),
		retry: make(chan int, 1), beats: make(chan struct{}, 100), done: make(chan struct{})}
	go c.read()
	s.t.Cleanup(c.close)
	select {
	case ms := <-c.retry:
		require.Equal(s.t, 2000, ms)
	case <-time.After(10 * time.Second):
		s.t.Fatal("no retry field at the stream's opening")
	}
	return c
}

func (c *sseClient) read() {
	defer close(c.done)
	defer close(c.events)
	sc := bufio.NewScanner(c.resp.Body)
	var ev sseEvent
	var data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data != "" {
				if err := json.Unmarshal([]byte(data), &ev.Data); err == nil {
					c.events <- ev
				}
			}
			ev, data = sseEvent{}, ""
		case strings.HasPrefix(line, ":"):
			select {
			case c.beats <- struct{}{}:
			default:
			}
		case strings.HasPrefix(line, "retry: "):
			ms, _ := strconv.Atoi(strings.TrimPrefix(line, "retry: "))
			select {
			case c.retry <- ms:
			default:
			}
		case strings.HasPrefix(line, "id: "):
			ev.ID, _ = strconv.ParseInt(strings.TrimPrefix(line, "id: "), 10, 64)
		case strings.HasPrefix(line, "event: "):
			ev.Event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}

func (c *sseClient) close() {
	c.cancel()
	_ = c.resp.Body.Close()
	<-c.done
}

// next returns the next n events, failing after a deadline.
func (c *sseClient) next(n int) []sseEvent {
	c.t.Helper()
	var out []sseEvent
	deadline := time.After(15 * time.Second)
	for len(out) < n {
		select {
		case ev, ok := <-c.events:
			if !ok {
				c.t.Fatalf("stream ended after %d of %d events", len(out), n)
			}
			out = append(out, ev)
		case <-deadline:
			c.t.Fatalf("got %d of %d events in 15 s", len(out), n)
		}
	}
	return out
}

// requireQuiet requires that no event arrives within d.
func (c *sseClient) requireQuiet(d time.Duration) {
	c.t.Helper()
	select {
	case ev := <-c.events:
		c.t.Fatalf("unexpected event %+v", ev)
	case <-time.After(d):
	}
}

func ids(events []sseEvent) []int64 {
	out := make([]int64, len(events))
	for i, ev := range events {
		out[i] = ev.ID
	}
	return out
}

// TestStreamResumesWithLastEventID reads the stream over HTTP, disconnects,
// lets events happen, reconnects with Last-Event-ID and requires exactly
// the missed events, in order, then live ones: no gap, no duplicate.
func TestStreamResumesWithLastEventID(t *testing.T) {
	t.Parallel()
	s := setupStream(t, stream.Options{})
	s.workflows()

	c := s.connect("/v1/stream", 0)
	run1 := s.startRun("wf-a")
	first := c.next(1)[0]
	require.Equal(t, "run_started", first.Event)
	require.Equal(t, first.ID, first.Data.ID)
	require.Equal(t, run1, *first.Data.RunID)
	require.Equal(t, "wf-a", first.Data.Workflow)
	c.close()

	// Missed while disconnected: 5 starts and a cancel.
	var missedRuns []int64
	for range 5 {
		missedRuns = append(missedRuns, s.startRun("wf-b"))
	}
	s.post(fmt.Sprintf("/v1/runs/%d/cancel", run1), "")
	var want []int64
	rows, err := s.pool.Query(context.Background(), "SELECT id FROM baton.task_events WHERE id > $1 ORDER BY id", first.ID)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		want = append(want, id)
	}
	require.NoError(t, rows.Err())
	require.Len(t, want, 6)

	c2 := s.connect("/v1/stream", first.ID)
	got := c2.next(len(want))
	require.Equal(t, want, ids(got), "replayed events")
	for i, run := range missedRuns {
		require.Equal(t, "run_started", got[i].Event)
		require.Equal(t, run, *got[i].Data.RunID)
	}
	require.Equal(t, "run_cancelled", got[5].Event)
	require.Equal(t, run1, *got[5].Data.RunID)

	// Then live, right after the replay.
	live := s.startRun("wf-a")
	ev := c2.next(1)[0]
	require.Equal(t, live, *ev.Data.RunID)
	require.Greater(t, ev.ID, want[len(want)-1])
	c2.requireQuiet(200 * time.Millisecond)

	// The query parameter does the same as the header.
	c3 := s.connect(fmt.Sprintf("/v1/stream?last_event_id=%d", want[len(want)-1]), 0)
	require.Equal(t, ev.ID, c3.next(1)[0].ID)
}

// TestStreamFilters filters by run, workflow and kind (repeated and comma
// lists), live and in replay.
func TestStreamFilters(t *testing.T) {
	t.Parallel()
	s := setupStream(t, stream.Options{})
	s.workflows()
	// all sees every event: reading from it shows the hub has fanned an
	// event out, so that a client connecting afterwards starts after it.
	all := s.connect("/v1/stream", 0)
	s.startRun("wf-a") // an event before the clients connect
	all.next(1)

	byWorkflow := s.connect("/v1/stream?workflow=wf-b", 0)
	byKind := s.connect("/v1/stream?kind=run_started,run_cancelled", 0)
	byKindRepeated := s.connect("/v1/stream?kind=run_started&kind=run_cancelled", 0)
	a := s.startRun("wf-a")
	b := s.startRun("wf-b")
	all.next(2)
	byRun := s.connect(fmt.Sprintf("/v1/stream?run_id=%d", a), 0)
	s.post(fmt.Sprintf("/v1/runs/%d/cancel", b), "")
	s.post(fmt.Sprintf("/v1/runs/%d/cancel", a), "")

	evs := byWorkflow.next(2)
	for _, ev := range evs {
		require.Equal(t, "wf-b", ev.Data.Workflow)
		require.Equal(t, b, *ev.Data.RunID)
	}
	byWorkflow.requireQuiet(200 * time.Millisecond)

	for _, c := range []*sseClient{byKind, byKindRepeated} {
		evs := c.next(4)
		for _, ev := range evs {
			require.Contains(t, []string{"run_started", "run_cancelled"}, ev.Event)
		}
		c.requireQuiet(100 * time.Millisecond)
	}

	ev := byRun.next(1)[0]
	require.Equal(t, a, *ev.Data.RunID)
	require.Equal(t, "run_cancelled", ev.Event)
	byRun.requireQuiet(100 * time.Millisecond)

	// Replay honours the filters too.
	replay := s.connect(fmt.Sprintf("/v1/stream?run_id=%d&kind=run_started", a), 1)
	ev = replay.next(1)[0]
	require.Equal(t, a, *ev.Data.RunID)
	require.Equal(t, "run_started", ev.Event)
	replay.requireQuiet(100 * time.Millisecond)
}

// TestStreamRefusesBadParameters answers 422 problems naming the field.
func TestStreamRefusesBadParameters(t *testing.T) {
	t.Parallel()
	s := setupStream(t, stream.Options{})
	for path, location := range map[string]string{
		"/v1/stream?kind=run_started,launched": "query.kind[0]",
		"/v1/stream?run_id=0":                  "query.run_id",
		"/v1/stream?run_id=x":                  "query.run_id",
		"/v1/stream?workflow=NO%20WAY":         "query.workflow",
		"/v1/stream?last_event_id=-1":          "query.last_event_id",
	} {
		resp, err := http.Get(s.url + path)
		require.NoError(t, err)
		var p problem
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
		_ = resp.Body.Close()
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, path)
		require.NotEmpty(t, p.Errors, path)
		require.Equal(t, location, p.Errors[0].Location, path)
	}
	req, err := http.NewRequest(http.MethodGet, s.url+"/v1/stream", nil)
	require.NoError(t, err)
	req.Header.Set("Last-Event-ID", "abc")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
}

// TestStreamHeartbeat sends a comment on an idle stream.
func TestStreamHeartbeat(t *testing.T) {
	t.Parallel()
	s := setupStream(t, stream.Options{Heartbeat: 50 * time.Millisecond})
	c := s.connect("/v1/stream", 0)
	for range 2 {
		select {
		case <-c.beats:
		case <-time.After(10 * time.Second):
			t.Fatal("no heartbeat")
		}
	}
}

// TestStreamDropsSlowClient connects a client that never reads: it is
// dropped when its buffer fills, while a fast client gets every event and
// the writers are never held up.
func TestStreamDropsSlowClient(t *testing.T) {
	t.Parallel()
	// Small reads keep the fast client's backlog well under its buffer even
	// on a loaded machine; the slow one fills its buffer regardless.
	s := setupStream(t, stream.Options{Buffer: 64, BatchSize: 8})
	s.workflows()

	// The slow client: opens the stream and never reads its body.
	req, err := http.NewRequest(http.MethodGet, s.url+"/v1/stream", nil)
	require.NoError(t, err)
	slow, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer slow.Body.Close()
	fast := s.connect("/v1/stream", 0)
	require.Eventually(t, func() bool { return s.hub.Clients() == 2 }, 10*time.Second, 5*time.Millisecond)

	// Enough events, each big enough, to fill the slow client's socket
	// buffers and then its hub buffer.
	const n = 600
	data := strings.Repeat("x", 16000)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			_, err := s.pool.Exec(context.Background(),
				`WITH e AS (INSERT INTO baton.task_events (kind, data)
				            VALUES ('queue_paused', jsonb_build_object('i', $1::int, 'pad', $2::text)) RETURNING id)
				 SELECT pg_notify('baton_events', '{}') FROM e`, i, data)
			if err != nil {
				t.Error(err)
				return
			}
		}
	})
	got := fast.next(n)
	wg.Wait()
	for i := 1; i < n; i++ {
		require.Greater(t, got[i].ID, got[i-1].ID)
	}
	require.Eventually(t, func() bool { return s.hub.Clients() == 1 }, 10*time.Second, 5*time.Millisecond,
		"the slow client was not dropped")
}

// TestStreamNotAvailable answers 503 without a hub.
func TestStreamNotAvailable(t *testing.T) {
	t.Parallel()
	h, _ := api.New(api.Options{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/stream", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
}

// TestStreamSurvivesDatabaseRestart restarts a private PostgreSQL cluster
// under a connected client: the events committed just before the stop and
// those written after the restart all arrive, once each, in order.
func TestStreamSurvivesDatabaseRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: restarts a private PostgreSQL cluster; skipped with -short")
	}
	ctx := context.Background()
	cluster, err := devcluster.Start(ctx, devcluster.Options{Dir: t.TempDir()})
	if err != nil {
		t.Skipf("no private PostgreSQL cluster here: %v", err)
	}
	t.Cleanup(func() { _ = cluster.Stop(context.Background()) })
	pool, err := db.Open(ctx, cluster.URL(), db.PoolOptions{MaxConns: 8, ApplicationName: "baton-stream-restart-test"})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.NoError(t, db.Migrate(ctx, pool))

	// No fallback poll: only notices and the listener's reconnect wake the hub.
	s := serveStream(t, pool, stream.Options{ReconnectDelay: 100 * time.Millisecond, PollInterval: time.Hour})
	s.workflows()
	c := s.connect("/v1/stream", 0)
	s.startRun("wf-a")
	first := c.next(1)[0]

	// Committed just before the stop: five with a notice (the hub may or
	// may not have read them), then three without one, which the hub can
	// only find by reading the table when its listener reconnects.
	for range 5 {
		s.startRun("wf-a")
	}
	_, err = pool.Exec(ctx, "INSERT INTO baton.task_events (kind) SELECT 'queue_paused' FROM generate_series(1, 3)")
	require.NoError(t, err)
	require.NoError(t, cluster.Stop(ctx))
	cluster, err = devcluster.Start(ctx, devcluster.Options{Dir: cluster.Home(), Port: cluster.Port()})
	require.NoError(t, err)

	// Written after the restart, once the pool reconnects.
	require.Eventually(t, func() bool { return pool.Ping(ctx) == nil }, 30*time.Second, 50*time.Millisecond)
	for range 5 {
		s.startRun("wf-b")
	}

	var want []int64
	rows, err := pool.Query(ctx, "SELECT id FROM baton.task_events WHERE id > $1 ORDER BY id", first.ID)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		want = append(want, id)
	}
	require.NoError(t, rows.Err())
	require.Len(t, want, 13)
	got := c.next(len(want))
	require.Equal(t, want, ids(got))
	for i, ev := range got {
		switch {
		case i < 5:
			require.Equal(t, "wf-a", ev.Data.Workflow)
		case i < 8:
			require.Equal(t, "queue_paused", ev.Event)
		default:
			require.Equal(t, "wf-b", ev.Data.Workflow)
		}
	}
	c.requireQuiet(300 * time.Millisecond)
}

// TestStreamTaskStarted sends a transient task_started event (no SSE id,
// not replayed) when baton.tasks_started marks a task running, to the
// clients whose filters take it.
func TestStreamTaskStarted(t *testing.T) {
	t.Parallel()
	s := setupStream(t, stream.Options{})
	s.workflows()
	// Reading both runs' events from all shows the hub has fanned them out,
	// so that the clients connecting afterwards start after them.
	all := s.connect("/v1/stream", 0)
	run := s.startRun("wf-a")
	other := s.startRun("wf-b")
	all.next(2)
	ctx := context.Background()
	var task int64
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT id FROM baton.run_tasks WHERE run_id = $1`, run).Scan(&task))

	byRun := s.connect(fmt.Sprintf("/v1/stream?run_id=%d", run), 0)
	byKind := s.connect("/v1/stream?kind=task_started", 0)
	elsewhere := s.connect(fmt.Sprintf("/v1/stream?run_id=%d", other), 0)
	_, err := s.pool.Exec(ctx, `SELECT baton.tasks_started($1, $2, $3)`, []int64{task}, []int32{1}, []time.Time{time.Now()})
	require.NoError(t, err)
	for _, c := range []*sseClient{byRun, byKind} {
		ev := c.next(1)[0]
		require.Equal(t, "task_started", ev.Event)
		require.Zero(t, ev.ID, "no SSE id: not in the event log")
		require.Equal(t, run, *ev.Data.RunID)
		require.Equal(t, task, *ev.Data.TaskID)
		require.Equal(t, "only", ev.Data.Step)
		require.Equal(t, "wf-a", ev.Data.Workflow)
		require.EqualValues(t, 1, *ev.Data.Attempt)
	}
	elsewhere.requireQuiet(100 * time.Millisecond)

	// A task that has finished is not announced as started.
	s.post(fmt.Sprintf("/v1/runs/%d/cancel", run), "")
	for ev := byRun.next(1)[0]; ev.Event != "run_cancelled"; ev = byRun.next(1)[0] {
	}
	_, err = s.pool.Exec(ctx, `SELECT baton.tasks_started($1, $2, $3)`, []int64{task}, []int32{2}, []time.Time{time.Now()})
	require.NoError(t, err)
	byRun.requireQuiet(200 * time.Millisecond)

	// Not replayed: a client resuming from the run's start gets the logged
	// events only.
	var first int64
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT min(id) FROM baton.task_events WHERE run_id = $1`, run).Scan(&first))
	replay := s.connect(fmt.Sprintf("/v1/stream?run_id=%d", run), first)
	for ev := replay.next(1)[0]; ev.Event != "run_cancelled"; ev = replay.next(1)[0] {
		require.NotEqual(t, "task_started", ev.Event)
	}
	replay.requireQuiet(100 * time.Millisecond)
}
