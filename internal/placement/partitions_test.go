package placement

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/testdb"
)

// TestNodeMetricPartitions: the maintenance function creates the coming
// daily partitions of node_metrics once, and drops those past retention.
func TestNodeMetricPartitions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	var changed int
	require.NoError(t, pool.QueryRow(ctx, `SELECT baton.maintain_node_metric_partitions(12, '90 days')`).Scan(&changed))
	require.Positive(t, changed, "the migration made yesterday's to 7 days ahead's partitions")
	require.NoError(t, pool.QueryRow(ctx, `SELECT baton.maintain_node_metric_partitions(12, '90 days')`).Scan(&changed))
	require.Zero(t, changed)
	var exists bool
	require.NoError(t, pool.QueryRow(ctx,
		`SELECT to_regclass(format('baton.node_metrics_p%s', to_char(current_date + 12, 'YYYYMMDD'))) IS NOT NULL`).Scan(&exists))
	require.True(t, exists)

	// A short retention drops old partitions; inserts still land.
	require.NoError(t, pool.QueryRow(ctx, `SELECT baton.maintain_node_metric_partitions(0, '1 hour')`).Scan(&changed))
	_, err := pool.Exec(ctx, `INSERT INTO baton.node_metrics (node, reserved_cpu_millis, reserved_memory_mb,
		reserved_disk_mb, running, cpu_millis_used, rss_mb) VALUES ('n', 0, 0, 0, 0, 0, 0)`)
	require.NoError(t, err)

	_, err = pool.Exec(ctx, `SELECT baton.maintain_node_metric_partitions(91, '90 days')`)
	require.ErrorContains(t, err, "days_ahead")
}
