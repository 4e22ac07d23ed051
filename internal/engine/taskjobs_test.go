package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/testdb"
)

// TestPurgeTaskJobs deletes completed baton_task jobs past the retention,
// oldest first and at most the limit, and nothing else: recent ones, other
// states and other kinds stay.
func TestPurgeTaskJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	eng := engine.New(pool, engine.Options{})
	_, err := pool.Exec(ctx, `
		INSERT INTO river_job (args, kind, max_attempts, priority, queue, state, scheduled_at, finalized_at, metadata, tags)
		VALUES ('{"task_id":1}', 'baton_task', 3, 1, 'default', 'completed', now(), now() - interval '2 hours', '{}', '{}'),
		       ('{"task_id":2}', 'baton_task', 3, 1, 'default', 'completed', now(), now() - interval '1 hour', '{}', '{}'),
		       ('{"task_id":3}', 'baton_task', 3, 1, 'default', 'completed', now(), now() - interval '1 minute', '{}', '{}'),
		       ('{"task_id":4}', 'baton_task', 3, 1, 'default', 'discarded', now(), now() - interval '2 hours', '{}', '{}'),
		       ('{"task_id":5}', 'baton_task', 3, 1, 'default', 'cancelled', now(), now() - interval '2 hours', '{}', '{}'),
		       ('{}', 'other_kind', 3, 1, 'default', 'completed', now(), now() - interval '2 hours', '{}', '{}')`)
	require.NoError(t, err)
	left := func() []string {
		rows, err := pool.Query(ctx, "SELECT kind || ':' || state || ':' || coalesce(args->>'task_id', '') FROM river_job ORDER BY id")
		require.NoError(t, err)
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			out = append(out, s)
		}
		return out
	}

	n, err := eng.PurgeTaskJobs(ctx, 10*time.Minute, 1)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NotContains(t, left(), "baton_task:completed:1", "oldest first")
	n, err = eng.PurgeTaskJobs(ctx, 10*time.Minute, 100)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, []string{"baton_task:completed:3", "baton_task:discarded:4", "baton_task:cancelled:5", "other_kind:completed:"}, left())
}
