package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/testdb"
)

func setupWithPool(t *testing.T) (*engine.Engine, *pgxpool.Pool, context.Context) {
	t.Helper()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	eng := engine.New(pool, engine.Options{})
	_, err := eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "noop", Executor: "sleep", Defaults: json.RawMessage(`{"duration":"0s"}`)})
	require.NoError(t, err)
	return eng, pool, ctx
}

// jobPriority is the River priority of a run's step's job.
func jobPriority(t *testing.T, pool *pgxpool.Pool, runID int64, step string) int {
	t.Helper()
	var p int
	require.NoError(t, pool.QueryRow(context.Background(), `
		SELECT j.priority FROM baton.run_tasks t JOIN public.river_job j ON j.id = t.river_job_id
		WHERE t.run_id = $1 AND t.step_name = $2`, runID, step).Scan(&p))
	return p
}

type slaEvent struct {
	Kind  string
	Actor *string
	Data  map[string]any
}

func runEvents(t *testing.T, pool *pgxpool.Pool, runID int64, kind string) []slaEvent {
	t.Helper()
	rows, err := pool.Query(context.Background(),
		`SELECT kind, actor, coalesce(data, '{}') FROM baton.task_events WHERE run_id = $1 AND kind = $2 ORDER BY id`, runID, kind)
	require.NoError(t, err)
	defer rows.Close()
	var out []slaEvent
	for rows.Next() {
		var e slaEvent
		require.NoError(t, rows.Scan(&e.Kind, &e.Actor, &e.Data))
		out = append(out, e)
	}
	require.NoError(t, rows.Err())
	return out
}

const slowSLA = `
name: nightly
priority: 4
sla: 1h
steps:
  - {name: extract, type: noop}
  - {name: load, type: noop, depends_on: [extract]}
`

func TestWorkflowSLAIsValidated(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"soon", "-5m", "0s", "9000h"} {
		spec, err := engine.ParseSpec([]byte(`{"name": "w", "sla": "` + bad + `", "steps": [{"name": "a", "type": "noop"}]}`))
		require.NoError(t, err)
		err = spec.(*engine.WorkflowSpec).Validate(func(string) (string, bool) { return "sleep", true }, nil)
		var invalid *engine.ValidationError
		require.ErrorAs(t, err, &invalid, bad)
		require.Equal(t, "sla", invalid.Problems[0].Field, bad)
	}
}

// TestSLAAtRiskEscalatesOneLevelPerCheck: the workflow's recent runs took
// 2 h (extract 1 h + load 1 h) against a 1 h SLA, so a new run is projected
// to miss it: each check raises its priority one level (4 → 3 → 2 → 1, never
// above 1) with its waiting River job, writing sla_at_risk with the
// projected finish and the deadline; a run of a fast workflow is left alone.
func TestSLAAtRiskEscalatesOneLevelPerCheck(t *testing.T) {
	t.Parallel()
	eng, pool, ctx := setupWithPool(t)
	applyWorkflow(t, eng, slowSLA)
	applyWorkflow(t, eng, `{"name": "quick", "priority": 4, "sla": "1h", "steps": [{"name": "a", "type": "noop"}]}`)
	for range 3 {
		run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "nightly"})
		require.NoError(t, err)
		require.Equal(t, engine.RunSucceeded, finish(t, eng, run.ID, nil).Status)
		_, err = pool.Exec(ctx, `UPDATE baton.run_tasks SET started_at = finished_at - interval '1 hour' WHERE run_id = $1`, run.ID)
		require.NoError(t, err)
	}
	quick, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "quick"})
	require.NoError(t, err)
	// Settle the history runs (met: they finished within their deadline).
	res, err := eng.CheckSLAs(ctx, 0, 0)
	require.NoError(t, err)
	require.Equal(t, engine.SLACheckResult{Settled: 3}, res)

	run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "nightly"})
	require.NoError(t, err)
	var deadline, created time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT sla_deadline, created_at FROM baton.runs WHERE id = $1`, run.ID).Scan(&deadline, &created))
	require.Equal(t, time.Hour, deadline.Sub(created), "deadline = created_at + sla")
	require.Equal(t, 4, jobPriority(t, pool, run.ID, "extract"))

	for _, want := range []int{3, 2, 1} {
		res, err := eng.CheckSLAs(ctx, 0, 0)
		require.NoError(t, err)
		require.Equal(t, 1, res.AtRisk)
		require.Equal(t, want, jobPriority(t, pool, run.ID, "extract"), "the waiting River job is updated in place")
		got, err := eng.GetRun(ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, want, got.Priority)
		for _, task := range got.Tasks {
			require.Equal(t, want, task.Priority, task.Step)
		}
	}
	res, err = eng.CheckSLAs(ctx, 0, 0)
	require.NoError(t, err)
	require.Zero(t, res.AtRisk, "never above 1, and reported once there")
	require.Equal(t, 1, jobPriority(t, pool, run.ID, "extract"))

	events := runEvents(t, pool, run.ID, "sla_at_risk")
	require.Len(t, events, 3)
	first := events[0].Data
	require.Equal(t, 4.0, first["from"])
	require.Equal(t, 3.0, first["to"])
	require.Equal(t, 1.0, first["jobs_updated"])
	require.InDelta(t, 2*time.Hour.Milliseconds(), first["remaining_ms"], 5000)
	projected, err := time.Parse(time.RFC3339Nano, first["projected_finish"].(string))
	require.NoError(t, err)
	require.True(t, projected.After(deadline), "projected %s, deadline %s", projected, deadline)
	require.NotEmpty(t, first["deadline"])

	require.Empty(t, runEvents(t, pool, quick.ID, "sla_at_risk"), "no history: projected on time")
	require.Equal(t, 4, jobPriority(t, pool, quick.ID, "a"))
}

// TestSLAViolatedExactlyOnce: a run still unfinished after its deadline, and
// one that finished after it, each get one sla_violated event however many
// checks run; one that finished in time gets none.
func TestSLAViolatedExactlyOnce(t *testing.T) {
	t.Parallel()
	eng, pool, ctx := setupWithPool(t)
	applyWorkflow(t, eng, `{"name": "report", "sla": "10m", "steps": [{"name": "a", "type": "noop"}]}`)
	late, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "report"})
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE baton.runs SET sla_deadline = now() - interval '1 minute' WHERE id = $1`, late.ID)
	require.NoError(t, err)

	finishedLate, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "report"})
	require.NoError(t, err)
	finish(t, eng, finishedLate.ID, nil)
	_, err = pool.Exec(ctx, `UPDATE baton.runs SET sla_deadline = finished_at - interval '1 second' WHERE id = $1`, finishedLate.ID)
	require.NoError(t, err)

	onTime, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "report"})
	require.NoError(t, err)
	finish(t, eng, onTime.ID, nil)

	res, err := eng.CheckSLAs(ctx, 0, 0)
	require.NoError(t, err)
	require.Equal(t, engine.SLACheckResult{Violated: 2, Settled: 1}, res)
	for range 3 {
		res, err = eng.CheckSLAs(ctx, 0, 0)
		require.NoError(t, err)
		require.Equal(t, engine.SLACheckResult{}, res)
	}
	finish(t, eng, late.ID, nil)
	res, err = eng.CheckSLAs(ctx, 0, 0)
	require.NoError(t, err)
	require.Equal(t, engine.SLACheckResult{}, res, "finishing later does not report it again")

	for _, id := range []int64{late.ID, finishedLate.ID} {
		events := runEvents(t, pool, id, "sla_violated")
		require.Len(t, events, 1)
		require.Greater(t, events[0].Data["late_ms"], 0.0)
		require.NotEmpty(t, events[0].Data["deadline"])
	}
	require.Equal(t, "running", runEvents(t, pool, late.ID, "sla_violated")[0].Data["status"])
	require.Empty(t, runEvents(t, pool, onTime.ID, "sla_violated"))
	var states []string
	require.NoError(t, pool.QueryRow(ctx, `SELECT array_agg(sla_state ORDER BY id) FROM baton.runs`).Scan(&states))
	require.Equal(t, []string{"violated", "violated", "met"}, states)
}

// TestPriorityOverride: set_run_priority (SQL) and SetTaskPriority (engine)
// update waiting River jobs in place and record the actor; bad priorities
// and finished runs or tasks are refused.
func TestPriorityOverride(t *testing.T) {
	t.Parallel()
	eng, pool, ctx := setupWithPool(t)
	applyWorkflow(t, eng, pipeline)
	run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "ship"})
	require.NoError(t, err)
	require.Equal(t, 2, jobPriority(t, pool, run.ID, "build"))

	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT baton.set_run_priority($1, 1, 'bob')`, run.ID).Scan(&n))
	require.Equal(t, 1, n)
	require.Equal(t, 1, jobPriority(t, pool, run.ID, "build"))
	got, err := eng.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, 1, got.Priority)
	for _, task := range got.Tasks {
		require.Equal(t, 1, task.Priority, "pending tasks get it when queued")
	}
	events := runEvents(t, pool, run.ID, "run_priority_changed")
	require.Len(t, events, 1)
	require.Equal(t, "bob", *events[0].Actor)
	require.Equal(t, map[string]any{"from": 2.0, "to": 1.0, "jobs_updated": 1.0}, events[0].Data)

	build, err := eng.GetTask(ctx, run.ID, "build")
	require.NoError(t, err)
	n, err = eng.SetTaskPriority(ctx, build.ID, 4, "carol")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, 4, jobPriority(t, pool, run.ID, "build"))
	events = runEvents(t, pool, run.ID, "task_priority_changed")
	require.Len(t, events, 1)
	require.Equal(t, "carol", *events[0].Actor)

	// Bad input.
	_, err = pool.Exec(ctx, `SELECT baton.set_run_priority($1, 5, 'bob')`, run.ID)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "22023", pgErr.Code)
	require.Contains(t, pgErr.Message, "priority")
	_, err = eng.SetRunPriority(ctx, run.ID, 0, "bob")
	var invalid *engine.ValidationError
	require.ErrorAs(t, err, &invalid)
	require.Equal(t, "priority", invalid.Problems[0].Field)
	_, err = eng.SetRunPriority(ctx, 999999, 1, "bob")
	require.ErrorIs(t, err, engine.ErrNotFound)

	// The finished task, then the finished run, are refused.
	succeedStep(t, eng, run.ID, "build")
	_, err = eng.SetTaskPriority(ctx, build.ID, 1, "carol")
	require.ErrorIs(t, err, engine.ErrConflict)
	finish(t, eng, run.ID, nil)
	_, err = eng.SetRunPriority(ctx, run.ID, 3, "bob")
	require.ErrorIs(t, err, engine.ErrConflict)
	_, err = pool.Exec(ctx, `SELECT baton.set_run_priority($1, 3, 'bob')`, run.ID)
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "55000", pgErr.Code)
	require.False(t, errors.Is(err, engine.ErrConflict))
}

// TestSLACheckCost times one check over 500 open runs of two workflows with
// 20 finished runs of history each (the figure is logged, not asserted),
// and checks that the open runs are read through runs_sla_open_idx.
func TestSLACheckCost(t *testing.T) {
	t.Parallel()
	eng, pool, ctx := setupWithPool(t)
	applyWorkflow(t, eng, slowSLA)
	applyWorkflow(t, eng, `{"name": "other", "sla": "1h", "steps": [{"name": "a", "type": "noop"}, {"name": "b", "type": "noop"}]}`)
	for _, wf := range []string{"nightly", "other"} {
		for range 20 {
			run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: wf})
			require.NoError(t, err)
			finish(t, eng, run.ID, nil)
		}
	}
	_, err := pool.Exec(ctx, `UPDATE baton.run_tasks SET started_at = finished_at - interval '1 minute'`)
	require.NoError(t, err)
	res, err := eng.CheckSLAs(ctx, 0, 0)
	require.NoError(t, err)
	require.Equal(t, 40, res.Settled)
	_, err = pool.Exec(ctx, `SELECT baton.start_run(CASE WHEN i % 2 = 0 THEN 'nightly' ELSE 'other' END) FROM generate_series(1, 500) i`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `ANALYZE baton.runs`)
	require.NoError(t, err)

	started := time.Now()
	res, err = eng.CheckSLAs(ctx, 0, 0)
	elapsed := time.Since(started)
	require.NoError(t, err)
	require.Equal(t, engine.SLACheckResult{}, res, "2 min projected against 1 h: none at risk")
	t.Logf("one SLA check over 500 open runs (2 workflows, 20 runs of history each): %s", elapsed)

	rows, err := pool.Query(ctx, `EXPLAIN SELECT id FROM baton.runs WHERE sla_state = 'open' ORDER BY sla_deadline LIMIT 1000`)
	require.NoError(t, err)
	var plan string
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan += line + "\n"
	}
	require.NoError(t, rows.Err())
	require.Contains(t, plan, "runs_sla_open_idx")
}

// TestSLAProjectionFollowsTheLongestPathAndCountsQueueWait: three parallel
// 30-minute steps and a fourth after them need an hour, not two (so a
// 90-minute SLA is not at risk); a single 30-minute step that usually waits
// 30 minutes in the queue needs an hour (so a 50-minute SLA is).
func TestSLAProjectionFollowsTheLongestPathAndCountsQueueWait(t *testing.T) {
	t.Parallel()
	eng, pool, ctx := setupWithPool(t)
	applyWorkflow(t, eng, `{"name": "fanout", "priority": 4, "sla": "90m", "steps": [
		{"name": "a", "type": "noop"}, {"name": "b", "type": "noop"}, {"name": "c", "type": "noop"},
		{"name": "d", "type": "noop", "depends_on": ["a", "b", "c"]}]}`)
	applyWorkflow(t, eng, `{"name": "waity", "priority": 4, "sla": "50m", "steps": [{"name": "a", "type": "noop"}]}`)
	for _, wf := range []string{"fanout", "waity"} {
		for range 3 {
			run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: wf})
			require.NoError(t, err)
			require.Equal(t, engine.RunSucceeded, finish(t, eng, run.ID, nil).Status)
			wait := "0 minutes"
			if wf == "waity" {
				wait = "30 minutes"
			}
			_, err = pool.Exec(ctx, `UPDATE baton.run_tasks SET started_at = finished_at - interval '30 minutes',
				queued_at = finished_at - interval '30 minutes' - $2::interval WHERE run_id = $1`, run.ID, wait)
			require.NoError(t, err)
		}
	}
	_, err := eng.CheckSLAs(ctx, 0, 0) // settles the history
	require.NoError(t, err)

	fanout, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "fanout"})
	require.NoError(t, err)
	waity, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "waity"})
	require.NoError(t, err)
	res, err := eng.CheckSLAs(ctx, 0, 0)
	require.NoError(t, err)
	require.Equal(t, 1, res.AtRisk)

	require.Empty(t, runEvents(t, pool, fanout.ID, "sla_at_risk"), "an hour along the longest path fits 90 minutes")
	events := runEvents(t, pool, waity.ID, "sla_at_risk")
	require.Len(t, events, 1)
	require.InDelta(t, time.Hour.Milliseconds(), events[0].Data["remaining_ms"], 5000, "30 min of queue wait + 30 min of work")
}
