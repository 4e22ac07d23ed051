package analytics_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/analytics"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/testdb"
)

// TestRecommendStartAvoidsBusyHours: four weeks of history in which
// every day is busy except 02:00–05:00 UTC, and a workflow whose runs take
// two hours. The best starts are 02:00 and 03:00 (their two-hour windows
// are quiet); 01:00 and 04:00 each half overlap a busy hour, and the
// earlier wins the tie.
func TestRecommendStartAvoidsBusyHours(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	now := time.Date(2026, 11, 30, 12, 30, 0, 0, time.UTC) // a Monday
	svc := analytics.New(pool, analytics.Options{Now: func() time.Time { return now }})

	// Hourly rollups: 10 tasks busy all hour (36,000 s of attempts) except
	// from 02:00 to 05:00, every day for 30 days.
	_, err := pool.Exec(ctx, `
		INSERT INTO baton.task_rollup_1h (bucket, workflow_name, task_type, owner, node, kind, events,
		                                  duration_count, duration_sum_ms, duration_buckets)
		SELECT h, 'other', 'work', '', 'n1', 'task_succeeded', 100, 100,
		       CASE WHEN extract(hour FROM h AT TIME ZONE 'UTC') BETWEEN 2 AND 4 THEN 0 ELSE 36000000 END, '{}'
		FROM generate_series($1::timestamptz - interval '30 days', $1::timestamptz - interval '1 hour', interval '1 hour') AS h`,
		now.Truncate(time.Hour))
	require.NoError(t, err)
	// The workflow's runs: two hours each.
	eng := engine.New(pool, engine.Options{})
	_, err = eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "work", Executor: "sleep"})
	require.NoError(t, err)
	spec, err := engine.ParseSpec([]byte("name: nightly\nsteps:\n  - {name: a, type: work}\n"))
	require.NoError(t, err)
	wf, _, err := eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `
		INSERT INTO baton.runs (workflow_id, workflow_name, workflow_version, status, priority, input, trigger,
		                        tasks_total, created_at, started_at, finished_at)
		SELECT $2::bigint, 'nightly', 1, 'succeeded', 2, '{}', 'api', 1, t, t, t + interval '2 hours'
		FROM generate_series($1::timestamptz - interval '10 days', $1::timestamptz - interval '1 day', interval '1 day') AS t`, now, wf.ID)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO baton.nodes (name, cpu_millis, memory_mb, disk_mb, slots) VALUES ('n1', 1000, 1000, 1000, 20)`)
	require.NoError(t, err)

	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	advice, err := svc.RecommendStart(ctx, "nightly", 3, paris)
	require.NoError(t, err)
	require.Equal(t, 10, advice.RunsConsidered)
	require.Equal(t, 2*time.Hour, advice.MedianDuration)
	require.Equal(t, 20, advice.Slots)
	require.Len(t, advice.Recommendations, 3)
	best := advice.Recommendations
	require.Equal(t, time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC), best[0].Start)
	require.Equal(t, time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC), best[1].Start)
	require.Equal(t, time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC), best[2].Start)
	require.InDelta(t, 0, best[0].ExpectedLoad, 0.001)
	require.InDelta(t, 5, best[2].ExpectedLoad, 0.001, "half of its window is in a busy hour")
	require.InDelta(t, 10, advice.Worst.ExpectedLoad, 0.001)
	require.InDelta(t, 0.25, best[2].Utilization, 0.001)
	require.Contains(t, best[0].Reason, "Tue 03:00 CET")
	require.Contains(t, best[0].Reason, "02:00 UTC")
	require.Contains(t, advice.Reasoning, "last 10 successful runs, 2h0m0s")
	t.Log(best[0].Reason)

	_, err = svc.RecommendStart(ctx, "nightly", 0, nil)
	var invalid *analytics.InvalidError
	require.ErrorAs(t, err, &invalid)

	// Without history: an assumed hour, every hour equal, earliest first.
	advice, err = svc.RecommendStart(ctx, "never-ran", 1, nil)
	require.NoError(t, err)
	require.Zero(t, advice.RunsConsidered)
	require.Contains(t, advice.Reasoning, "assumed hour")
}
