package rollup_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/rollup"
)

func TestValidateRetentionDays(t *testing.T) {
	t.Parallel()
	for _, days := range []int{-1, 0, 1, 29, 366, 10000} {
		_, err := rollup.ValidateRetentionDays(days)
		require.ErrorIs(t, err, rollup.ErrRetentionRange, "days %d", days)
	}
	for _, days := range []int{30, 90, 365} {
		d, err := rollup.ValidateRetentionDays(days)
		require.NoError(t, err)
		require.Equal(t, time.Duration(days)*24*time.Hour, d)
	}
}

// TestEnforceRetention: with 90 days, an event partition of 100 days ago is
// dropped and one of 10 days ago kept; a run finished 100 days ago goes with
// its tasks and dead letter, a run finished 10 days ago and a run still
// running since 200 days stay; rollup rows older than 90 days go.
func TestEnforceRetention(t *testing.T) {
	t.Parallel()
	svc, pool, ctx := setup(t)
	old := time.Now().UTC().AddDate(0, 0, -100).Truncate(24 * time.Hour)
	recent := time.Now().UTC().AddDate(0, 0, -10).Truncate(24 * time.Hour)
	for _, day := range []time.Time{old, recent} {
		_, err := pool.Exec(ctx, fmt.Sprintf(`CREATE TABLE baton.task_events_p%s PARTITION OF baton.task_events
			FOR VALUES FROM ('%s') TO ('%s')`, day.Format("20060102"), day.Format(time.RFC3339), day.AddDate(0, 0, 1).Format(time.RFC3339)))
		require.NoError(t, err)
	}
	_, err := pool.Exec(ctx, `
INSERT INTO baton.task_types (name, executor) VALUES ('build', 'sim');
INSERT INTO baton.workflows (name, version, owner, definition, checksum) VALUES ('ship', 1, 'alice', '{}', 'x');
INSERT INTO baton.runs (workflow_id, workflow_name, workflow_version, status, priority, tasks_total, created_at, started_at, finished_at)
VALUES (1, 'ship', 1, 'failed',    2, 1, $1::timestamptz, $1::timestamptz, $1::timestamptz + interval '1 hour'),
       (1, 'ship', 1, 'succeeded', 2, 1, $2::timestamptz, $2::timestamptz, $2::timestamptz + interval '1 hour'),
       (1, 'ship', 1, 'running',   2, 1, now() - interval '200 days', now() - interval '200 days', NULL);
INSERT INTO baton.run_tasks (run_id, step_name, step_index, task_type, executor, status, when_cond, deps_pending,
                             priority, queue, max_attempts, timeout_ms)
SELECT id, 'build', 0, 'build', 'sim', CASE status WHEN 'failed' THEN 'dead' WHEN 'running' THEN 'running' ELSE 'succeeded' END,
       'on_success', 0, 2, 'default', 3, 1000
FROM baton.runs;
INSERT INTO baton.dead_letters (task_id, run_id, workflow_name, workflow_version, step_name, task_type, params, error,
                                error_class, attempts, first_failed_at, last_failed_at, created_at)
VALUES (1, 1, 'ship', 1, 'build', 'build', '{}', 'boom', 'permanent', 3, $1, $1, now());
INSERT INTO baton.task_events (time, run_id, task_id, kind) VALUES ($1::timestamptz + interval '1 hour', 1, 1, 'task_dead'),
                                                                  ($2::timestamptz + interval '1 hour', 2, 2, 'task_succeeded');
INSERT INTO baton.task_rollup_1m (bucket, workflow_name, task_type, owner, node, kind, events, duration_count, duration_sum_ms, duration_buckets)
VALUES ($1, 'ship', 'build', '', '', 'task_dead', 1, 0, 0, '{}'), ($2, 'ship', 'build', '', '', 'task_succeeded', 1, 0, 0, '{}');
INSERT INTO baton.webhooks (url, event_types, secret_sealed) VALUES ('https://example.com/h', '{run.failed}', 'x');
INSERT INTO baton.webhook_deliveries (webhook_id, message_id, event_type, payload, status, attempts, created_at)
VALUES (1, 'msg_old_done', 'run.failed', '{}', 'succeeded', 1, $1),
       (1, 'msg_old_failed', 'run.failed', '{}', 'failed', 3, $1),
       (1, 'msg_old_pending', 'run.failed', '{}', 'pending', 0, $1),
       (1, 'msg_recent', 'run.failed', '{}', 'succeeded', 1, $2);
INSERT INTO baton.webhook_attempts (delivery_id, attempt, succeeded, latency_ms) SELECT id, 1, true, 1 FROM baton.webhook_deliveries;
`, pgx.QueryExecModeSimpleProtocol, old, recent)
	require.NoError(t, err)

	res, err := svc.EnforceRetention(ctx, rollup.RetentionOptions{Retention: rollup.DefaultRetention})
	require.NoError(t, err)
	require.Equal(t, 1, res.Runs)
	require.Equal(t, 1, res.RollupRows)
	require.Equal(t, 2, res.WebhookDeliveries)

	exists := func(rel string) bool {
		var ok bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, rel).Scan(&ok))
		return ok
	}
	require.False(t, exists("baton.task_events_p"+old.Format("20060102")), "partition past retention dropped")
	require.True(t, exists("baton.task_events_p"+recent.Format("20060102")), "recent partition kept")
	count := func(q string) int {
		var n int
		require.NoError(t, pool.QueryRow(ctx, q).Scan(&n))
		return n
	}
	require.Equal(t, 0, count(`SELECT count(*) FROM baton.task_events WHERE run_id = 1`))
	require.Equal(t, 1, count(`SELECT count(*) FROM baton.task_events WHERE run_id = 2`))
	require.Equal(t, []int{2, 3}, ids(t, pool, `SELECT id FROM baton.runs ORDER BY id`), "old finished run deleted, recent and unfinished kept")
	require.Equal(t, 0, count(`SELECT count(*) FROM baton.run_tasks WHERE run_id = 1`))
	require.Equal(t, 0, count(`SELECT count(*) FROM baton.dead_letters`))
	require.Equal(t, 1, count(`SELECT count(*) FROM baton.task_rollup_1m`))
	require.Equal(t, []int{3, 4}, ids(t, pool, `SELECT id FROM baton.webhook_deliveries ORDER BY id`),
		"old finished deliveries deleted, a pending one and a recent one kept")
	require.Equal(t, 2, count(`SELECT count(*) FROM baton.webhook_attempts`))

	// Idempotent: nothing more to remove.
	res, err = svc.EnforceRetention(ctx, rollup.RetentionOptions{Retention: rollup.DefaultRetention})
	require.NoError(t, err)
	require.Zero(t, res.Runs)
	require.Zero(t, res.RollupRows)
	require.Zero(t, res.WebhookDeliveries)
}
