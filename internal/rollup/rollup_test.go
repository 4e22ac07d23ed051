package rollup_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/rollup"
	"github.com/baton-run/baton/internal/testdb"
)

// seedSQL creates one workflow (owner alice), one finished run (id 1) with
// two tasks: build (id 1) and deploy (id 2).
const seedSQL = `
INSERT INTO baton.task_types (name, executor) VALUES ('build', 'sim'), ('deploy', 'sim');
INSERT INTO baton.workflows (name, version, owner, definition, checksum) VALUES ('ship', 1, 'alice', '{}', 'x');
INSERT INTO baton.runs (workflow_id, workflow_name, workflow_version, status, priority, owner, tasks_total,
                        created_at, started_at, finished_at)
VALUES (1, 'ship', 1, 'succeeded', 2, 'alice', 2, '2026-01-05 10:00:00Z', '2026-01-05 10:00:00Z', '2026-01-05 10:59:59Z');
INSERT INTO baton.run_tasks (run_id, step_name, step_index, task_type, executor, status, when_cond, deps_pending,
                             priority, queue, max_attempts, timeout_ms)
VALUES (1, 'build', 0, 'build', 'sim', 'succeeded', 'on_success', 0, 2, 'default', 3, 1000),
       (1, 'deploy', 1, 'deploy', 'sim', 'dead', 'on_success', 0, 2, 'default', 3, 1000);
INSERT INTO baton.task_events (time, run_id, task_id, kind, duration_ms, node) VALUES
    ('2026-01-05 10:00:10Z', 1, 1, 'task_succeeded', 40, 'n1'),
    ('2026-01-05 10:00:50Z', 1, 1, 'task_succeeded', 300, 'n1'),
    ('2026-01-05 10:01:05Z', 1, 2, 'task_attempt_failed', 1200, 'n2'),
    ('2026-01-05 10:01:30Z', 1, 2, 'task_dead', 7000, 'n2'),
    ('2026-01-05 10:59:59Z', 1, NULL, 'run_succeeded', NULL, NULL),
    ('2026-01-05 11:00:00Z', 1, 1, 'task_succeeded', 5, 'n1');
`

func setup(t *testing.T) (*rollup.Service, *pgxpool.Pool, context.Context) {
	t.Helper()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	return rollup.New(pool), pool, ctx
}

// rollAll rolls up until the high-water mark reaches the newest event (other
// transactions on the server may delay the mark by a call or two).
func rollAll(t *testing.T, ctx context.Context, svc *rollup.Service, pool *pgxpool.Pool) {
	t.Helper()
	var newest int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM baton.task_events`).Scan(&newest))
	require.Eventually(t, func() bool {
		_, err := svc.Roll(ctx, 0)
		require.NoError(t, err)
		st, err := svc.State(ctx)
		require.NoError(t, err)
		return st.HighWaterMark >= newest
	}, 20*time.Second, 20*time.Millisecond)
}

type row struct {
	Bucket                    time.Time
	Workflow, TaskType, Owner string
	Node, Kind                string
	Events, DurCount, DurSum  int64
	DurMin, DurMax            *int64
	Buckets                   []int64
}

func rows(t *testing.T, ctx context.Context, pool *pgxpool.Pool, table string) []row {
	t.Helper()
	rs, err := pool.Query(ctx, `SELECT bucket, workflow_name, task_type, owner, node, kind, events, duration_count,
		duration_sum_ms, duration_min_ms, duration_max_ms, duration_buckets FROM baton.`+table+`
		ORDER BY bucket, task_type, kind`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rs, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.Bucket, &x.Workflow, &x.TaskType, &x.Owner, &x.Node, &x.Kind, &x.Events, &x.DurCount,
			&x.DurSum, &x.DurMin, &x.DurMax, &x.Buckets)
		x.Bucket = x.Bucket.UTC()
		return x, err
	})
	require.NoError(t, err)
	return out
}

func p(v int64) *int64 { return &v }

// hist returns a 15-bucket histogram with a count of 1 at each given
// 1-based index (repeated indexes add up).
func hist(idx ...int) []int64 {
	h := make([]int64, 15)
	for _, i := range idx {
		h[i-1]++
	}
	return h
}

func at(s string) time.Time {
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return tm
}

// TestRollupExactAndIdempotent seeds six events, rolls them up, checks every
// per-minute and per-hour row and the totals, rolls up again (nothing
// changes), then adds a late event in an already rolled minute and checks
// that minute and its hour are updated.
func TestRollupExactAndIdempotent(t *testing.T) {
	t.Parallel()
	svc, pool, ctx := setup(t)
	_, err := pool.Exec(ctx, seedSQL)
	require.NoError(t, err)

	rollAll(t, ctx, svc, pool)
	wantMinutes := []row{
		{at("2026-01-05T10:00:00Z"), "ship", "build", "alice", "n1", "task_succeeded", 2, 2, 340, p(40), p(300), hist(4, 7)},
		{at("2026-01-05T10:01:00Z"), "ship", "deploy", "alice", "n2", "task_attempt_failed", 1, 1, 1200, p(1200), p(1200), hist(9)},
		{at("2026-01-05T10:01:00Z"), "ship", "deploy", "alice", "n2", "task_dead", 1, 1, 7000, p(7000), p(7000), hist(11)},
		{at("2026-01-05T10:59:00Z"), "ship", "", "alice", "", "run_succeeded", 1, 0, 0, nil, nil, hist()},
		{at("2026-01-05T11:00:00Z"), "ship", "build", "alice", "n1", "task_succeeded", 1, 1, 5, p(5), p(5), hist(1)},
	}
	wantHours := []row{
		{at("2026-01-05T10:00:00Z"), "ship", "", "alice", "", "run_succeeded", 1, 0, 0, nil, nil, hist()},
		{at("2026-01-05T10:00:00Z"), "ship", "build", "alice", "n1", "task_succeeded", 2, 2, 340, p(40), p(300), hist(4, 7)},
		{at("2026-01-05T10:00:00Z"), "ship", "deploy", "alice", "n2", "task_attempt_failed", 1, 1, 1200, p(1200), p(1200), hist(9)},
		{at("2026-01-05T10:00:00Z"), "ship", "deploy", "alice", "n2", "task_dead", 1, 1, 7000, p(7000), p(7000), hist(11)},
		{at("2026-01-05T11:00:00Z"), "ship", "build", "alice", "n1", "task_succeeded", 1, 1, 5, p(5), p(5), hist(1)},
	}
	require.Equal(t, wantMinutes, rows(t, ctx, pool, "task_rollup_1m"))
	require.Equal(t, wantHours, rows(t, ctx, pool, "task_rollup_1h"))
	var totEvents, totSum int64
	var totBuckets []int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT events, duration_sum_ms, duration_buckets FROM baton.task_rollup_totals
		WHERE kind = 'task_succeeded' AND task_type = 'build'`).Scan(&totEvents, &totSum, &totBuckets))
	require.Equal(t, int64(3), totEvents)
	require.Equal(t, int64(345), totSum)
	require.Equal(t, hist(1, 4, 7), totBuckets)

	// Again: nothing new, nothing changes.
	n, err := svc.Roll(ctx, 0)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, wantMinutes, rows(t, ctx, pool, "task_rollup_1m"))
	require.Equal(t, wantHours, rows(t, ctx, pool, "task_rollup_1h"))

	// A later event in the already rolled 10:00 minute.
	_, err = pool.Exec(ctx, `INSERT INTO baton.task_events (time, run_id, task_id, kind, duration_ms, node)
		VALUES ('2026-01-05 10:00:30Z', 1, 1, 'task_succeeded', 60, 'n1')`)
	require.NoError(t, err)
	rollAll(t, ctx, svc, pool)
	wantMinutes[0] = row{at("2026-01-05T10:00:00Z"), "ship", "build", "alice", "n1", "task_succeeded", 3, 3, 400, p(40), p(300), hist(4, 5, 7)}
	wantHours[1] = row{at("2026-01-05T10:00:00Z"), "ship", "build", "alice", "n1", "task_succeeded", 3, 3, 400, p(40), p(300), hist(4, 5, 7)}
	require.Equal(t, wantMinutes, rows(t, ctx, pool, "task_rollup_1m"))
	require.Equal(t, wantHours, rows(t, ctx, pool, "task_rollup_1h"))
	st, err := svc.State(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(7), st.EventsTotal, "each event rolled up exactly once")
}

// TestRollupWaitsForOpenTransactions holds an event uncommitted while a
// later event commits: the rollup must not move its mark past the open one,
// and counts both once it commits.
func TestRollupWaitsForOpenTransactions(t *testing.T) {
	t.Parallel()
	svc, pool, ctx := setup(t)
	_, err := pool.Exec(ctx, seedSQL)
	require.NoError(t, err)
	rollAll(t, ctx, svc, pool)

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	var early int64
	require.NoError(t, tx.QueryRow(ctx, `INSERT INTO baton.task_events (time, run_id, task_id, kind, duration_ms, node)
		VALUES ('2026-01-05 10:02:00Z', 1, 1, 'task_succeeded', 20, 'n1') RETURNING id`).Scan(&early))
	var late int64
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO baton.task_events (time, run_id, task_id, kind, duration_ms, node)
		VALUES ('2026-01-05 10:02:10Z', 1, 1, 'task_succeeded', 20, 'n1') RETURNING id`).Scan(&late))
	require.Greater(t, late, early)

	for range 3 {
		_, err := svc.Roll(ctx, 0)
		require.NoError(t, err)
		st, err := svc.State(ctx)
		require.NoError(t, err)
		require.Less(t, st.HighWaterMark, early, "the mark passed an event still uncommitted")
	}
	require.NoError(t, tx.Commit(ctx))
	rollAll(t, ctx, svc, pool)
	var events int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT events FROM baton.task_rollup_1m
		WHERE bucket = '2026-01-05 10:02:00Z' AND task_type = 'build' AND kind = 'task_succeeded'`).Scan(&events))
	require.Equal(t, int64(2), events)
}

func TestRollupRefusesBadBatch(t *testing.T) {
	t.Parallel()
	_, pool, ctx := setup(t)
	_, err := pool.Exec(ctx, `SELECT baton.rollup_task_events(0)`)
	require.ErrorContains(t, err, "max_events")
}

func ids(t *testing.T, pool *pgxpool.Pool, q string) []int {
	t.Helper()
	rs, err := pool.Query(context.Background(), q)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rs, pgx.RowTo[int])
	require.NoError(t, err)
	return out
}
