package rollup_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/rollup"
	"github.com/baton-run/baton/internal/testdb"
)

// TestTimescaleContinuousAggregates runs only where migration 00002 made
// task_events a TimescaleDB hypertable: migration 00008 then created the
// continuous aggregates task_events_cagg_1m and _1h; after a refresh they
// hold the seeded events' exact counts and durations, and the rollup tables
// are kept as on plain PostgreSQL.
func TestTimescaleContinuousAggregates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	var hypertable bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
		AND EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		            WHERE n.nspname = 'baton' AND c.relname = 'task_events' AND c.relkind = 'r')`).Scan(&hypertable))
	if !hypertable {
		t.Skip("timescaledb is not installed and preloaded on the test server: task_events is natively partitioned, no continuous aggregates")
	}
	_, err := pool.Exec(ctx, seedSQL)
	require.NoError(t, err)
	// refresh_continuous_aggregate cannot run inside a transaction block:
	// each Exec without arguments is its own implicit transaction.
	for _, view := range []string{"baton.task_events_cagg_1m", "baton.task_events_cagg_1h"} {
		_, err = pool.Exec(ctx, `CALL refresh_continuous_aggregate('`+view+`', '2026-01-05', '2026-01-06')`)
		require.NoError(t, err)
	}
	var events, sum int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT events, duration_sum_ms FROM baton.task_events_cagg_1m
		WHERE bucket = '2026-01-05 10:00:00Z' AND kind = 'task_succeeded' AND node = 'n1'`).Scan(&events, &sum))
	require.Equal(t, int64(2), events)
	require.Equal(t, int64(340), sum)
	require.NoError(t, pool.QueryRow(ctx, `SELECT sum(events) FROM baton.task_events_cagg_1h
		WHERE bucket = '2026-01-05 10:00:00Z'`).Scan(&events))
	require.Equal(t, int64(5), events)

	svc := rollup.New(pool)
	require.Eventually(t, func() bool {
		n, err := svc.Roll(ctx, 0)
		require.NoError(t, err)
		st, err := svc.State(ctx)
		require.NoError(t, err)
		return n == 0 && st.EventsTotal == 6
	}, 20*time.Second, 20*time.Millisecond)
}
