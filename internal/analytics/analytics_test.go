package analytics_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/analytics"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/testdb"
)

// t0 is the seed's origin: midnight UTC, so day and hour buckets are exact.
var t0 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// seeded holds the ids the seed created.
type seeded struct {
	runs  [5]int64 // runs[1..4]
	tasks map[string]int64
}

// seed writes four runs directly (no workers):
//
//	run 1: etl, alice, {nightly,prod}, succeeded, 0s → 100s, on node n1.
//	       A ─┬─ B ────────┬─ E     elapsed (finished - queued):
//	          ├─ C ── D ───┘        A 10s, B 30s, C 10s, D 15s, E 10s, F 5s
//	          └─ F
//	       B's first attempt failed (transient), its second succeeded.
//	run 2: etl, bob, {prod}, failed, 1h → 1h1m, on node n2: A succeeded, B
//	       failed once (transient) then died (permanent).
//	run 3: report, alice, running since 2h: X succeeded (20 s), on n1.
//	run 4: report, carol, succeeded 1d1h → +30s: X succeeded (1 s), on n1.
//
// Task type compute costs 0.5/s + 0.25 per attempt; http 0.125/s.
func seed(t *testing.T, pool *pgxpool.Pool) *seeded {
	t.Helper()
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := pool.Exec(ctx, sql, args...)
		require.NoError(t, err, sql)
	}
	exec(`INSERT INTO baton.task_types (name, executor, cost_per_second, cost_per_run) VALUES
	      ('compute', 'sim', 0.5, 0.25), ('http', 'http', 0.125, NULL)`)
	var wf int64
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO baton.workflows (name, version, definition, checksum)
	      VALUES ('etl', 1, '{}', 'x') RETURNING id`).Scan(&wf))
	s := &seeded{tasks: map[string]int64{}}
	newRun := func(n int, workflow, owner string, tags []string, status string, created time.Time, finished *time.Time) {
		t.Helper()
		require.NoError(t, pool.QueryRow(ctx, `INSERT INTO baton.runs (workflow_id, workflow_name, workflow_version, status,
		      priority, owner, tags, tasks_total, created_at, started_at, finished_at)
		      VALUES ($1, $2, 1, $3, 2, $4, $5, 1, $6, $6, $7) RETURNING id`,
			wf, workflow, status, owner, tags, created, finished).Scan(&s.runs[n]))
	}
	newTask := func(run int, step string, index int, taskType, status string, deps []string, queued, finished time.Duration, attempts int) {
		t.Helper()
		if deps == nil {
			deps = []string{}
		}
		var id int64
		require.NoError(t, pool.QueryRow(ctx, `INSERT INTO baton.run_tasks (run_id, step_name, step_index, task_type, executor,
		      status, when_cond, depends_on, deps_pending, priority, queue, max_attempts, timeout_ms, attempts,
		      queued_at, started_at, finished_at)
		      VALUES ($1, $2, $3, $4, 'sim', $5, 'on_success', $6, 0, 2, 'default', 4, 60000, $7, $8, $8, $9) RETURNING id`,
			s.runs[run], step, index, taskType, status, deps, attempts, at(queued), at(finished)).Scan(&id))
		s.tasks[strings.Join([]string{string(rune('0' + run)), step}, "/")] = id
	}
	event := func(run int, step, kind string, attempt int, end time.Duration, durMs int64, node, errText, errClass string) {
		t.Helper()
		var e, c *string
		if errText != "" {
			e, c = &errText, &errClass
		}
		exec(`INSERT INTO baton.task_events (time, run_id, task_id, step_name, kind, attempt, duration_ms, error, error_class, node, queue, priority)
		      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'default', 2)`,
			at(end), s.runs[run], s.tasks[string(rune('0'+run))+"/"+step], step, kind, attempt, durMs, e, c, node)
	}
	sec := time.Second
	fin := func(d time.Duration) *time.Time { x := at(d); return &x }

	newRun(1, "etl", "alice", []string{"nightly", "prod"}, "succeeded", at(0), fin(100*sec))
	newTask(1, "A", 0, "compute", "succeeded", nil, 0, 10*sec, 1)
	newTask(1, "B", 1, "compute", "succeeded", []string{"A"}, 10*sec, 40*sec, 2)
	newTask(1, "C", 2, "compute", "succeeded", []string{"A"}, 10*sec, 20*sec, 1)
	newTask(1, "D", 3, "compute", "succeeded", []string{"C"}, 20*sec, 35*sec, 1)
	newTask(1, "E", 4, "compute", "succeeded", []string{"B", "D"}, 40*sec, 50*sec, 1)
	newTask(1, "F", 5, "compute", "succeeded", []string{"A"}, 10*sec, 15*sec, 1)
	event(1, "A", "task_succeeded", 1, 10*sec, 8000, "n1", "", "")
	event(1, "B", "task_attempt_failed", 1, 18*sec, 5000, "n1", "timeout after 5s on host 10.0.0.1 job 4411", "transient")
	event(1, "B", "task_succeeded", 2, 40*sec, 12000, "n1", "", "")
	event(1, "C", "task_succeeded", 1, 20*sec, 6000, "n1", "", "")
	event(1, "D", "task_succeeded", 1, 35*sec, 10000, "n1", "", "")
	event(1, "E", "task_succeeded", 1, 50*sec, 9000, "n1", "", "")
	event(1, "F", "task_succeeded", 1, 15*sec, 4000, "n1", "", "")

	h := time.Hour
	newRun(2, "etl", "bob", []string{"prod"}, "failed", at(h), fin(h+60*sec))
	newTask(2, "A", 0, "compute", "succeeded", nil, h, h+2*sec, 1)
	newTask(2, "B", 1, "compute", "dead", []string{"A"}, h+2*sec, h+20*sec, 2)
	event(2, "A", "task_succeeded", 1, h+2*sec, 2000, "n2", "", "")
	event(2, "B", "task_attempt_failed", 1, h+10*sec, 3000, "n2", "timeout after 7s on host 10.0.0.2 job 98", "transient")
	event(2, "B", "task_dead", 2, h+20*sec, 1000, "n2", "permission denied for 3f2504e0-4f89-11d3-9a0c-0305e82c3301", "permanent")

	newRun(3, "report", "alice", []string{}, "running", at(2*h), nil)
	newTask(3, "X", 0, "http", "succeeded", nil, 2*h, 2*h+20*sec, 1)
	event(3, "X", "task_succeeded", 1, 2*h+20*sec, 20000, "n1", "", "")

	newRun(4, "report", "carol", []string{}, "succeeded", at(25*h), fin(25*h+30*sec))
	newTask(4, "X", 0, "http", "succeeded", nil, 25*h, 25*h+sec, 1)
	event(4, "X", "task_succeeded", 1, 25*h+sec, 1000, "n1", "", "")
	return s
}

func setup(t *testing.T) (*analytics.Service, *seeded) {
	t.Helper()
	pool := testdb.NewPool(t)
	s := seed(t, pool)
	svc := analytics.New(pool, analytics.Options{Now: func() time.Time { return t0.Add(48 * time.Hour) }})
	return svc, s
}

// window is the seed's two days.
func window() analytics.Filter { return analytics.Filter{From: t0, To: t0.Add(48 * time.Hour)} }

func TestAnalyticsOnSeededRuns(t *testing.T) {
	t.Parallel()
	svc, s := setup(t)
	ctx := context.Background()

	t.Run("completion", func(t *testing.T) {
		got, err := svc.Completion(ctx, window())
		require.NoError(t, err)
		require.Equal(t, int64(4), got.Total)
		require.Equal(t, []analytics.StatusCount{{"failed", 1, 0.25}, {"running", 1, 0.25}, {"succeeded", 2, 0.5}}, got.Statuses)

		f := window()
		f.Owner = "alice"
		got, err = svc.Completion(ctx, f)
		require.NoError(t, err)
		require.Equal(t, []analytics.StatusCount{{"running", 1, 0.5}, {"succeeded", 1, 0.5}}, got.Statuses)

		f = window()
		f.Tags = []string{"prod", "nightly"}
		got, err = svc.Completion(ctx, f)
		require.NoError(t, err)
		require.Equal(t, []analytics.StatusCount{{"succeeded", 1, 1}}, got.Statuses)

		f = window()
		f.TaskType = "http"
		got, err = svc.Completion(ctx, f)
		require.NoError(t, err)
		require.Equal(t, []analytics.StatusCount{{"running", 1, 0.5}, {"succeeded", 1, 0.5}}, got.Statuses)

		f = window()
		f.Workflow = "etl"
		f.To = t0.Add(30 * time.Minute)
		got, err = svc.Completion(ctx, f)
		require.NoError(t, err)
		require.Equal(t, []analytics.StatusCount{{"succeeded", 1, 1}}, got.Statuses)
	})

	t.Run("durations", func(t *testing.T) {
		got, err := svc.DurationTrend(ctx, window())
		require.NoError(t, err)
		// Day 0: runs of 100 s and 60 s; day 1: one run of 30 s.
		require.Equal(t, []analytics.DurationDay{
			{Day: t0, Runs: 2, P50Ms: 80000, P95Ms: 98000},
			{Day: t0.Add(24 * time.Hour), Runs: 1, P50Ms: 30000, P95Ms: 30000},
		}, got.Days)
		// Without from: the last 30 days before now (t0 + 48h).
		got, err = svc.DurationTrend(ctx, analytics.Filter{})
		require.NoError(t, err)
		require.Equal(t, t0.Add(48*time.Hour-30*24*time.Hour), got.From)
		require.Len(t, got.Days, 2)
	})

	t.Run("task types", func(t *testing.T) {
		got, err := svc.TaskTypes(ctx, window())
		require.NoError(t, err)
		require.Equal(t, []analytics.TaskTypeOutcome{
			{TaskType: "compute", Succeeded: 7, Dead: 1, Attempts: 10, Retried: 2, SuccessRate: 0.875, AttemptSuccessRate: 0.7},
			{TaskType: "http", Succeeded: 2, Dead: 0, Attempts: 2, Retried: 0, SuccessRate: 1, AttemptSuccessRate: 1},
		}, got.TaskTypes)
	})

	t.Run("errors", func(t *testing.T) {
		got, err := svc.Errors(ctx, window(), 10)
		require.NoError(t, err)
		require.Equal(t, []analytics.ErrorClassCount{{"transient", 2}, {"permanent", 1}}, got.Classes)
		require.Len(t, got.Messages, 2)
		require.Equal(t, analytics.ErrorMessage{
			ErrorClass: "transient", Message: "timeout after <n>s on host <n>.<n>.<n>.<n> job <n>", Occurrences: 2,
			LastSeen:    at(time.Hour + 10*time.Second),
			Examples:    []string{"timeout after 7s on host 10.0.0.2 job 98", "timeout after 5s on host 10.0.0.1 job 4411"},
			ExampleRuns: []int64{s.runs[2], s.runs[1]},
		}, got.Messages[0])
		require.Equal(t, "permission denied for <uuid>", got.Messages[1].Message)
		require.Equal(t, int64(1), got.Messages[1].Occurrences)

		f := window()
		f.Owner = "alice"
		got, err = svc.Errors(ctx, f, 10)
		require.NoError(t, err)
		require.Equal(t, []analytics.ErrorClassCount{{"transient", 1}}, got.Classes)
	})

	t.Run("cost", func(t *testing.T) {
		got, err := svc.Cost(ctx, window())
		require.NoError(t, err)
		// compute: 60 s over 10 attempts → 0.5×60 + 0.25×10; http: 21 s × 0.125.
		require.Equal(t, []analytics.CostLine{{"compute", 10, 60, "32.5"}, {"http", 2, 21, "2.625"}}, got.TaskTypes)
		require.Equal(t, []analytics.CostLine{{"etl", 10, 60, "32.5"}, {"report", 2, 21, "2.625"}}, got.Workflows)
		require.Equal(t, []analytics.CostLine{{"alice", 8, 74, "31.25"}, {"bob", 3, 6, "3.75"}, {"carol", 1, 1, "0.125"}}, got.Owners)
	})

	t.Run("heatmap", func(t *testing.T) {
		got, err := svc.Heatmap(ctx, window())
		require.NoError(t, err)
		require.Equal(t, []analytics.NodeHour{
			{Node: "n1", Hour: t0, Attempts: 7, BusySeconds: 54},
			{Node: "n1", Hour: t0.Add(2 * time.Hour), Attempts: 1, BusySeconds: 20},
			{Node: "n1", Hour: t0.Add(25 * time.Hour), Attempts: 1, BusySeconds: 1},
			{Node: "n2", Hour: t0.Add(time.Hour), Attempts: 3, BusySeconds: 6},
		}, got.Cells)
	})

	t.Run("gantt", func(t *testing.T) {
		got, err := svc.Gantt(ctx, s.runs[1])
		require.NoError(t, err)
		require.Equal(t, []string{"A", "B", "E"}, got.CriticalPath)
		require.Equal(t, int64(50000), got.CriticalLengthMs)
		slack := map[string]int64{}
		elapsed := map[string]int64{}
		for _, task := range got.Tasks {
			slack[task.Step] = task.SlackMs
			elapsed[task.Step] = task.ElapsedMs
		}
		require.Equal(t, map[string]int64{"A": 0, "B": 0, "C": 5000, "D": 5000, "E": 0, "F": 35000}, slack)
		require.Equal(t, map[string]int64{"A": 10000, "B": 30000, "C": 10000, "D": 15000, "E": 10000, "F": 5000}, elapsed)
		b := got.Tasks[1]
		require.Equal(t, "B", b.Step)
		require.True(t, b.Critical)
		require.Equal(t, []string{"A"}, b.DependsOn)
		require.Equal(t, []analytics.Attempt{
			{Attempt: 1, Outcome: "task_attempt_failed", StartedAt: at(13 * time.Second), EndedAt: at(18 * time.Second),
				DurationMs: 5000, Node: "n1", Error: "timeout after 5s on host 10.0.0.1 job 4411", ErrorClass: "transient"},
			{Attempt: 2, Outcome: "task_succeeded", StartedAt: at(28 * time.Second), EndedAt: at(40 * time.Second),
				DurationMs: 12000, Node: "n1"},
		}, b.Attempts)

		_, err = svc.Gantt(ctx, 999999)
		require.ErrorIs(t, err, engine.ErrNotFound)
	})

	t.Run("exports", func(t *testing.T) {
		x, err := svc.ExportEvents(ctx, analytics.EventExportFilter{From: t0, To: t0.Add(48 * time.Hour), RunID: s.runs[2]})
		require.NoError(t, err)
		var buf bytes.Buffer
		n, err := x.WriteCSV(&buf, func() {})
		x.Close()
		require.NoError(t, err)
		require.Equal(t, int64(3), n)
		records, err := csv.NewReader(&buf).ReadAll()
		require.NoError(t, err)
		require.Len(t, records, 4)
		require.Equal(t, []string{"id", "time", "run_id", "task_id", "step_name", "kind", "attempt", "duration_ms", "error",
			"error_class", "node", "queue", "priority", "actor", "data"}, records[0])
		require.Equal(t, "2026-11-20T01:00:20Z", records[3][1])
		require.Equal(t, "task_dead", records[3][5])
		require.Equal(t, "", records[3][13]) // NULL actor

		x, err = svc.ExportRuns(ctx, analytics.RunExportFilter{Filter: window(), Status: "succeeded"})
		require.NoError(t, err)
		buf.Reset()
		n, err = x.WriteJSON(&buf, func() {})
		x.Close()
		require.NoError(t, err)
		require.Equal(t, int64(2), n)
		var runs []map[string]any
		require.NoError(t, json.Unmarshal(buf.Bytes(), &runs))
		require.Equal(t, "etl", runs[0]["workflow"])
		require.Equal(t, []any{"nightly", "prod"}, runs[0]["tags"])
		require.Equal(t, "2026-11-20T00:01:40Z", runs[0]["finished_at"])
		require.Equal(t, "carol", runs[1]["owner"])

		x, err = svc.ExportTasks(ctx, analytics.Filter{From: t0, To: t0.Add(48 * time.Hour), Workflow: "etl"})
		require.NoError(t, err)
		buf.Reset()
		n, err = x.WriteCSV(&buf, func() {})
		x.Close()
		require.NoError(t, err)
		require.Equal(t, int64(8), n)
	})
}

func TestQueueStats(t *testing.T) {
	t.Parallel()
	pool := testdb.NewPool(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	_, err := pool.Exec(ctx, `INSERT INTO river_job (kind, args, queue, priority, state, scheduled_at, attempted_at, finalized_at, attempt) VALUES
	    ('k', '{}', 'default', 2, 'available', $1::timestamptz - interval '1 minute', NULL, NULL, 0),
	    ('k', '{}', 'default', 2, 'available', $1::timestamptz - interval '1 minute', NULL, NULL, 0),
	    ('k', '{}', 'default', 2, 'scheduled', $1::timestamptz + interval '1 hour', NULL, NULL, 0),
	    ('k', '{}', 'default', 1, 'running', $1::timestamptz - interval '10 seconds', $1::timestamptz - interval '8 seconds', NULL, 1),
	    ('k', '{}', 'default', 2, 'completed', $1::timestamptz - interval '20 minutes', $1::timestamptz - interval '1199 seconds', $1, 1),
	    ('k', '{}', 'default', 2, 'completed', $1::timestamptz - interval '20 minutes', $1::timestamptz - interval '1197 seconds', $1, 1),
	    ('k', '{}', 'slow', 3, 'completed', $1::timestamptz - interval '3 hours', $1::timestamptz - interval '3 hours', $1, 1)`, now)
	require.NoError(t, err)
	svc := analytics.New(pool, analytics.Options{Now: func() time.Time { return now.Add(time.Second) }})
	got, err := svc.Queues(ctx, analytics.Filter{}) // the last hour
	require.NoError(t, err)
	require.Equal(t, []analytics.QueueLine{
		{Queue: "default", Priority: 1, Running: 1, Waited: 1, WaitAvgMs: 2000, WaitP50Ms: 2000, WaitP95Ms: 2000},
		{Queue: "default", Priority: 2, Available: 2, Scheduled: 1, Waited: 2, WaitAvgMs: 2000, WaitP50Ms: 2000, WaitP95Ms: 2900},
	}, got.Queues)
}

func TestFilterValidation(t *testing.T) {
	t.Parallel()
	svc := analytics.New(nil, analytics.Options{Now: func() time.Time { return t0 }})
	ctx := context.Background()
	cases := []struct {
		f     analytics.Filter
		field string
	}{
		{analytics.Filter{From: t0, To: t0}, "from"},
		{analytics.Filter{From: t0.Add(time.Hour), To: t0}, "from"},
		{analytics.Filter{From: t0.Add(-367 * 24 * time.Hour)}, "from"},
		{analytics.Filter{Tags: make([]string, 21)}, "tags"},
	}
	for _, c := range cases {
		_, err := svc.Completion(ctx, c.f)
		var invalid *analytics.InvalidError
		require.True(t, errors.As(err, &invalid), "%v", err)
		require.Equal(t, c.field, invalid.Field)
	}
}
