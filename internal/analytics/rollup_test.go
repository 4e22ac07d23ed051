package analytics_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/analytics"
	"github.com/baton-run/baton/internal/rollup"
	"github.com/baton-run/baton/internal/testdb"
)

// rollAll runs the rollup until its high-water mark reaches the newest event
// (transactions of other tests on the server may delay the mark a call).
func rollAll(t *testing.T, ctx context.Context, pool *pgxpool.Pool) {
	t.Helper()
	svc := rollup.New(pool)
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

// TestAttemptFiguresFromRollups checks that task types, cost and heatmap
// served from the rollups (whole hours, whole minutes, raw edges and raw
// events past the high-water mark) equal the raw-event figures for windows
// cut anywhere, with every filter, before and after the rollup ran and with
// events added after it; and that the rollups are what is read.
func TestAttemptFiguresFromRollups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	s := seed(t, pool)
	svc := analytics.New(pool, analytics.Options{Now: func() time.Time { return t0.Add(48 * time.Hour) }})
	raw := analytics.RawOnly(svc)

	sec, minute, h := time.Second, time.Minute, time.Hour
	windows := [][2]time.Duration{
		{0, 48 * h},            // the seed's two days: whole hours only
		{-90 * minute, 26 * h}, // whole hours and whole minutes
		{12*sec + 500*time.Millisecond, h + 15*sec}, // partial minutes at both edges
		{15 * sec, 40 * sec},                        // inside one minute
		{10 * sec, 70 * sec},                        // across one minute boundary
		{h + 5*sec, h + 25*sec},                     // inside one minute, events of run 2
		{30 * minute, 2*h + 30*minute},              // one whole hour, minutes on both sides
		{59*minute + 59*sec, 2*h + 20*sec + time.Microsecond},
		{2*h + 20*sec, 25*h + sec + time.Microsecond}, // events exactly on both bounds
		{25 * h, 25*h + sec},                          // the end is exclusive
	}
	filters := []analytics.Filter{{}, {Workflow: "etl"}, {Owner: "alice"}, {TaskType: "http"}, {Workflow: "report", Owner: "carol"}}

	compare := func(t *testing.T, stage string) {
		t.Helper()
		for _, w := range windows {
			for _, base := range filters {
				f := base
				f.From, f.To = at(w[0]), at(w[1])
				want, err := raw.TaskTypes(ctx, f)
				require.NoError(t, err)
				got, err := svc.TaskTypes(ctx, f)
				require.NoError(t, err)
				require.Equal(t, want, got, "%s: task types %v", stage, w)
				wantCost, err := raw.Cost(ctx, f)
				require.NoError(t, err)
				gotCost, err := svc.Cost(ctx, f)
				require.NoError(t, err)
				require.Equal(t, wantCost, gotCost, "%s: cost %v %+v", stage, w, base)
				wantHeat, err := raw.Heatmap(ctx, f)
				require.NoError(t, err)
				gotHeat, err := svc.Heatmap(ctx, f)
				require.NoError(t, err)
				require.Equal(t, wantHeat, gotHeat, "%s: heatmap %v %+v", stage, w, base)
			}
		}
	}
	compare(t, "before the rollup") // every event past the mark (0)
	rollAll(t, ctx, pool)
	compare(t, "rolled up")

	// The exact figures of TestAnalyticsOnSeededRuns, from the rollups.
	got, err := svc.TaskTypes(ctx, window())
	require.NoError(t, err)
	require.Equal(t, []analytics.TaskTypeOutcome{
		{TaskType: "compute", Succeeded: 7, Dead: 1, Attempts: 10, Retried: 2, SuccessRate: 0.875, AttemptSuccessRate: 0.7},
		{TaskType: "http", Succeeded: 2, Dead: 0, Attempts: 2, Retried: 0, SuccessRate: 1, AttemptSuccessRate: 1},
	}, got.TaskTypes)
	cost, err := svc.Cost(ctx, window())
	require.NoError(t, err)
	require.Equal(t, []analytics.CostLine{{"alice", 8, 74, "31.25"}, {"bob", 3, 6, "3.75"}, {"carol", 1, 1, "0.125"}}, cost.Owners)

	// Events after the rollup ran (past the mark): an interrupted attempt in a
	// rolled-up minute, one in a new hour, one without a node or duration.
	_, err = pool.Exec(ctx, `INSERT INTO baton.task_events (time, run_id, task_id, step_name, kind, attempt, duration_ms, node)
		VALUES ($1, $2, $3, 'A', 'task_attempt_interrupted', 2, 1500, 'n1'),
		       ($4, $5, $6, 'X', 'task_succeeded', 2, 2500, 'n3'),
		       ($7, $5, $6, 'X', 'task_attempt_failed', 3, NULL, NULL)`,
		at(10*sec+250*time.Millisecond), s.runs[1], s.tasks["1/A"],
		at(30*h+10*minute+5*sec), s.runs[4], s.tasks["4/X"], at(30*h+10*minute+30*sec))
	require.NoError(t, err)
	windows = append(windows, [2]time.Duration{29 * h, 31 * h}, [2]time.Duration{30*h + 10*minute + 5*sec, 30*h + 11*minute})
	compare(t, "events past the mark")
	heat, err := svc.Heatmap(ctx, analytics.Filter{From: at(29 * h), To: at(31 * h)})
	require.NoError(t, err)
	require.Equal(t, []analytics.NodeHour{
		{Node: "", Hour: t0.Add(30 * h), Attempts: 1, BusySeconds: 0},
		{Node: "n3", Hour: t0.Add(30 * h), Attempts: 1, BusySeconds: 2.5},
	}, heat.Cells)

	// The rollups are what is read: a change to a rollup row shows (the raw
	// figures do not move).
	rollAll(t, ctx, pool)
	compare(t, "rolled up again")
	_, err = pool.Exec(ctx, `UPDATE baton.task_rollup_1h SET events = events + 100 WHERE node = 'n2' AND kind = 'task_dead'`)
	require.NoError(t, err)
	heat, err = svc.Heatmap(ctx, window())
	require.NoError(t, err)
	require.Contains(t, heat.Cells, analytics.NodeHour{Node: "n2", Hour: t0.Add(h), Attempts: 103, BusySeconds: 6})
	heat, err = raw.Heatmap(ctx, window())
	require.NoError(t, err)
	require.Contains(t, heat.Cells, analytics.NodeHour{Node: "n2", Hour: t0.Add(h), Attempts: 3, BusySeconds: 6})

	// A tags filter cannot be served from the rollups: it reads the events.
	f := window()
	f.Tags = []string{"prod"}
	tagged, err := svc.Heatmap(ctx, f)
	require.NoError(t, err)
	require.Contains(t, tagged.Cells, analytics.NodeHour{Node: "n2", Hour: t0.Add(h), Attempts: 3, BusySeconds: 6})
}
