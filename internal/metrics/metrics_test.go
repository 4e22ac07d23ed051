package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/internal/metrics"
	"github.com/baton-run/baton/internal/rollup"
	"github.com/baton-run/baton/internal/testdb"
)

const seedSQL = `
INSERT INTO baton.task_types (name, executor) VALUES ('build', 'sim'), ('deploy', 'sim');
INSERT INTO baton.workflows (name, version, owner, definition, checksum) VALUES ('ship', 1, 'alice', '{}', 'x');
INSERT INTO baton.runs (workflow_id, workflow_name, workflow_version, status, priority, owner, tasks_total,
                        created_at, started_at, finished_at)
VALUES (1, 'ship', 1, 'failed', 2, 'alice', 2, now(), now(), now());
INSERT INTO baton.run_tasks (run_id, step_name, step_index, task_type, executor, status, when_cond, deps_pending,
                             priority, queue, max_attempts, timeout_ms)
VALUES (1, 'build', 0, 'build', 'sim', 'succeeded', 'on_success', 0, 2, 'default', 3, 1000),
       (1, 'deploy', 1, 'deploy', 'sim', 'dead', 'on_success', 0, 2, 'default', 3, 1000);
INSERT INTO baton.task_events (run_id, task_id, kind, duration_ms, node) VALUES
    (1, 1, 'task_succeeded', 40, 'n1'), (1, 1, 'task_succeeded', 300, 'n1'), (1, 1, 'task_succeeded', 5, 'n1'),
    (1, 2, 'task_attempt_failed', 1200, 'n2'), (1, 2, 'task_dead', 7000, 'n2'),
    (1, NULL, 'run_failed', NULL, NULL);
INSERT INTO baton.dead_letters (task_id, run_id, workflow_name, workflow_version, step_name, task_type, params, error,
                                error_class, attempts, first_failed_at, last_failed_at)
VALUES (2, 1, 'ship', 1, 'deploy', 'deploy', '{}', 'boom', 'permanent', 2, now(), now());
INSERT INTO baton.circuit_breakers (key, state, failure_rate, window_size, cooldown_ms, forced)
VALUES ('deploy', 'open', 0.5, 10, 1000, true), ('build', 'closed', 0.5, 10, 1000, false);
INSERT INTO public.river_job (args, kind, max_attempts, priority, queue, state, scheduled_at)
VALUES ('{}', 'baton_task', 3, 2, 'default', 'available', now()), ('{}', 'baton_task', 3, 2, 'default', 'available', now()),
       ('{}', 'baton_task', 3, 2, 'default', 'available', now()), ('{}', 'baton_task', 3, 4, 'slow', 'retryable', now()),
       ('{}', 'baton_task', 3, 2, 'default', 'available', now());
UPDATE public.river_job SET state = 'completed', finalized_at = now() WHERE id = (SELECT max(id) FROM public.river_job);
`

// countingDB counts the statements run in the transactions it begins.
type countingDB struct {
	pool       *pgxpool.Pool
	begins     atomic.Int64
	statements atomic.Int64
}

func (c *countingDB) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, err := c.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	c.begins.Add(1)
	return &countingTx{Tx: tx, n: &c.statements}, nil
}

type countingTx struct {
	pgx.Tx
	n *atomic.Int64
}

func (t *countingTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	t.n.Add(1)
	return t.Tx.Exec(ctx, sql, args...)
}

func (t *countingTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	t.n.Add(1)
	return t.Tx.Query(ctx, sql, args...)
}

func (t *countingTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	t.n.Add(1)
	return t.Tx.QueryRow(ctx, sql, args...)
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	return string(body)
}

// TestMetricsScrape seeds runs, tasks, events, River jobs, breakers and a
// dead letter, rolls the events up, scrapes /metrics through the API handler
// and checks each family's values; a second scrape within the TTL reads
// nothing, one after it reads again; API requests are timed by operation.
func TestMetricsScrape(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	_, err := pool.Exec(ctx, seedSQL)
	require.NoError(t, err)
	svc := rollup.New(pool)
	require.Eventually(t, func() bool {
		_, err := svc.Roll(ctx, 0)
		require.NoError(t, err)
		st, err := svc.State(ctx)
		require.NoError(t, err)
		return st.EventsTotal == 6
	}, 20*time.Second, 20*time.Millisecond)

	db := &countingDB{pool: pool}
	clk := &clock{now: time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)}
	m := metrics.New(db, metrics.Options{Now: clk.Now})
	m.SetSSEClients(func() int { return 7 })
	handler, _ := api.New(api.Options{Metrics: m, Ready: func(context.Context) error { return nil }})

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	require.Equal(t, http.StatusOK, rec.Code)

	body := scrape(t, handler)
	for _, line := range []string{
		`baton_database_up 1`,
		`baton_queue_jobs{priority="2",queue="default",state="available"} 3`,
		`baton_queue_jobs{priority="4",queue="slow",state="retryable"} 1`,
		`baton_tasks_total{outcome="succeeded",task_type="build"} 3`,
		`baton_tasks_total{outcome="attempt_failed",task_type="deploy"} 1`,
		`baton_tasks_total{outcome="dead",task_type="deploy"} 1`,
		`baton_runs_total{outcome="failed"} 1`,
		`baton_task_retries_total{task_type="deploy"} 1`,
		`baton_task_duration_seconds_bucket{task_type="build",le="0.005"} 1`,
		`baton_task_duration_seconds_bucket{task_type="build",le="0.05"} 2`,
		`baton_task_duration_seconds_bucket{task_type="build",le="0.25"} 2`,
		`baton_task_duration_seconds_bucket{task_type="build",le="0.5"} 3`,
		`baton_task_duration_seconds_bucket{task_type="build",le="+Inf"} 3`,
		`baton_task_duration_seconds_sum{task_type="build"} 0.345`,
		`baton_task_duration_seconds_count{task_type="build"} 3`,
		`baton_task_duration_seconds_bucket{task_type="deploy",le="1"} 0`,
		`baton_task_duration_seconds_bucket{task_type="deploy",le="2.5"} 1`,
		`baton_task_duration_seconds_bucket{task_type="deploy",le="10"} 2`,
		`baton_task_duration_seconds_sum{task_type="deploy"} 8.2`,
		`baton_circuit_breaker_state{key="deploy",state="open"} 1`,
		`baton_circuit_breaker_state{key="deploy",state="closed"} 0`,
		`baton_circuit_breaker_state{key="build",state="closed"} 1`,
		`baton_circuit_breaker_forced{key="deploy"} 1`,
		`baton_dead_letters 1`,
		`baton_sse_clients 7`,
		`baton_api_request_duration_seconds_count{code="200",method="GET",operation="get-health"} 1`,
		`baton_metrics_refreshes_total 1`,
	} {
		require.Contains(t, body, line+"\n")
	}
	require.NotContains(t, body, `state="completed"`)
	require.Equal(t, int64(1), db.begins.Load())
	statements := db.statements.Load()

	// Within the TTL: no database read.
	clk.Add(4 * time.Second)
	body = scrape(t, handler)
	require.Contains(t, body, "baton_metrics_refreshes_total 1\n")
	require.Equal(t, int64(1), db.begins.Load())
	require.Equal(t, statements, db.statements.Load(), "a scrape within the TTL ran statements")

	// Past the TTL: one new read, seeing new data.
	_, err = pool.Exec(ctx, `INSERT INTO public.river_job (args, kind, max_attempts, priority, queue, state, scheduled_at)
		VALUES ('{}', 'baton_task', 3, 2, 'default', 'available', now())`)
	require.NoError(t, err)
	clk.Add(2 * time.Second)
	body = scrape(t, handler)
	require.Contains(t, body, "baton_metrics_refreshes_total 2\n")
	require.Contains(t, body, `baton_queue_jobs{priority="2",queue="default",state="available"} 4`+"\n")
	require.Equal(t, int64(2), db.begins.Load())
	require.Equal(t, 2*statements-1, db.statements.Load(), "the second read skips the histogram bounds, read once")
}

// TestMetricsConcurrentScrapesReadOnce: scrapes at the same time share one read.
func TestMetricsConcurrentScrapesReadOnce(t *testing.T) {
	t.Parallel()
	pool := testdb.NewPool(t)
	db := &countingDB{pool: pool}
	m := metrics.New(db, metrics.Options{})
	h := m.Handler()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := scrape(t, h)
			require.True(t, strings.Contains(body, "baton_database_up 1\n"))
		}()
	}
	wg.Wait()
	require.Equal(t, int64(1), db.begins.Load())
}
