package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/testdb"
)

func setup(t *testing.T) (*engine.Engine, context.Context) {
	t.Helper()
	ctx := context.Background()
	eng := engine.New(testdb.NewPool(t), engine.Options{})
	_, err := eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "noop", Executor: "sleep", Defaults: json.RawMessage(`{"duration":"0s"}`)})
	require.NoError(t, err)
	return eng, ctx
}

func applyWorkflow(t *testing.T, eng *engine.Engine, yaml string) *engine.Workflow {
	t.Helper()
	spec, err := engine.ParseSpec([]byte(yaml))
	require.NoError(t, err)
	wf, _, err := eng.ApplyWorkflow(context.Background(), spec.(*engine.WorkflowSpec))
	require.NoError(t, err)
	return wf
}

// finish runs one attempt of every queued task, succeeding unless fail names
// the step, until no task is queued. It returns the run.
func finish(t *testing.T, eng *engine.Engine, runID int64, fail map[string]bool) *engine.Run {
	t.Helper()
	ctx := context.Background()
	for range 100 {
		run, err := eng.GetRun(ctx, runID)
		require.NoError(t, err)
		progressed := false
		for _, task := range run.Tasks {
			if task.Status != engine.TaskQueued {
				continue
			}
			progressed = true
			var err error
			if fail[task.Step] {
				_, err = eng.FailTask(ctx, engine.Attempt{TaskID: task.ID, Attempt: 1, Error: "boom", ErrorClass: "permanent", Final: true})
			} else {
				_, err = eng.SucceedTasks(ctx, []engine.Attempt{{TaskID: task.ID, Attempt: 1, Output: json.RawMessage(`{"ok":true}`)}}, nil)
			}
			require.NoError(t, err)
		}
		if !progressed {
			return run
		}
	}
	t.Fatal("run did not settle")
	return nil
}

func statuses(run *engine.Run) map[string]string {
	out := map[string]string{}
	for _, task := range run.Tasks {
		out[task.Step] = task.Status
	}
	return out
}

func TestStartAndAdvanceFanOutFanIn(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	applyWorkflow(t, eng, `
name: diamond
steps:
  - {name: a, type: noop}
  - {name: b, type: noop, depends_on: [a]}
  - {name: c, type: noop, depends_on: [a]}
  - {name: d, type: noop, depends_on: [b, c]}
`)
	run, created, err := eng.StartRun(ctx, engine.StartParams{Workflow: "diamond", Input: json.RawMessage(`{"day":"2026-11-27"}`)})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, engine.RunRunning, run.Status)

	got, err := eng.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "queued", "b": "pending", "c": "pending", "d": "pending"}, statuses(got))

	final := finish(t, eng, run.ID, nil)
	require.Equal(t, engine.RunSucceeded, final.Status)
	require.Equal(t, map[string]string{"a": "succeeded", "b": "succeeded", "c": "succeeded", "d": "succeeded"}, statuses(final))
	require.NotNil(t, final.FinishedAt)

	events, err := eng.ListEvents(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, "run_started", events[0].Kind)
	require.Equal(t, "run_succeeded", events[len(events)-1].Kind)
}

func TestOnFailureBranches(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	applyWorkflow(t, eng, `
name: with-handler
steps:
  - {name: build, type: noop}
  - {name: deploy, type: noop, depends_on: [build]}
  - {name: after-deploy, type: noop, depends_on: [deploy]}
  - {name: rollback, type: noop, depends_on: [build], when: on_failure}
  - {name: notify, type: noop, depends_on: [build], when: always}
`)
	t.Run("failure runs on_failure and always, skips the rest", func(t *testing.T) {
		run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "with-handler"})
		require.NoError(t, err)
		final := finish(t, eng, run.ID, map[string]bool{"build": true})
		require.Equal(t, engine.RunFailed, final.Status)
		require.Equal(t, map[string]string{
			"build": "dead", "deploy": "skipped", "after-deploy": "skipped", "rollback": "succeeded", "notify": "succeeded",
		}, statuses(final))
		require.Contains(t, final.Error, "build: boom")
	})
	t.Run("success skips on_failure", func(t *testing.T) {
		run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "with-handler"})
		require.NoError(t, err)
		final := finish(t, eng, run.ID, nil)
		require.Equal(t, engine.RunSucceeded, final.Status)
		require.Equal(t, "skipped", statuses(final)["rollback"])
		require.Equal(t, "succeeded", statuses(final)["notify"])
	})
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	applyWorkflow(t, eng, "name: one\nsteps: [{name: only, type: noop}]\n")
	first, created, err := eng.StartRun(ctx, engine.StartParams{Workflow: "one", IdempotencyKey: "k-1"})
	require.NoError(t, err)
	require.True(t, created)
	second, created, err := eng.StartRun(ctx, engine.StartParams{Workflow: "one", IdempotencyKey: "k-1"})
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, first.ID, second.ID)
}

func TestStartUnknownWorkflowAndBadInput(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	_, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "nope"})
	require.ErrorIs(t, err, engine.ErrNotFound)
	require.Contains(t, err.Error(), `unknown workflow "nope"`)

	applyWorkflow(t, eng, "name: one\nsteps: [{name: only, type: noop}]\n")
	_, _, err = eng.StartRun(ctx, engine.StartParams{Workflow: "one", Input: json.RawMessage(`[1]`)})
	require.ErrorIs(t, err, engine.ErrInvalid)
}

func TestSQLStartRespectsTransaction(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	applyWorkflow(t, eng, "name: hello\nsteps: [{name: greet, type: noop}]\n")
	pool := eng.Pool()

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	var id int64
	require.NoError(t, tx.QueryRow(ctx, "SELECT baton.start_run('hello')").Scan(&id))
	require.NoError(t, tx.Rollback(ctx))
	var n int
	require.NoError(t, pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM baton.runs) + (SELECT count(*) FROM river_job)").Scan(&n))
	require.Zero(t, n, "a rolled-back start leaves nothing behind")

	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT baton.start_run('hello', '{"x":1}', '{"idempotency_key":"sql-1"}')`).Scan(&id)
	}))
	run, err := eng.GetRun(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "sql", run.Trigger)
	require.Equal(t, engine.TaskQueued, run.Tasks[0].Status)
	var jobs int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE kind = 'baton_task' AND state = 'available'").Scan(&jobs))
	require.Equal(t, 1, jobs)
}

func TestCancelRun(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	applyWorkflow(t, eng, "name: two\nsteps: [{name: a, type: noop}, {name: b, type: noop, depends_on: [a]}]\n")
	run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "two"})
	require.NoError(t, err)
	ok, err := eng.CancelRun(ctx, run.ID, "test")
	require.NoError(t, err)
	require.True(t, ok)
	got, err := eng.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, engine.RunCancelled, got.Status)
	require.Equal(t, map[string]string{"a": "cancelled", "b": "cancelled"}, statuses(got))
	recorded, err := eng.SucceedTasks(ctx, []engine.Attempt{{TaskID: got.Tasks[0].ID, Attempt: 1}}, nil)
	require.NoError(t, err)
	require.Empty(t, recorded, "a cancelled task's late success is ignored")

	ok, err = eng.CancelRun(ctx, run.ID, "test")
	require.NoError(t, err)
	require.False(t, ok, "cancelling a finished run is a no-op")
	_, err = eng.CancelRun(ctx, 999999, "test")
	require.ErrorIs(t, err, engine.ErrNotFound)
}

func TestListRunsPaging(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	applyWorkflow(t, eng, "name: one\nsteps: [{name: only, type: noop}]\n")
	for i := range 5 {
		_, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "one", IdempotencyKey: fmt.Sprint(i)})
		require.NoError(t, err)
	}
	page, err := eng.ListRuns(ctx, engine.ListRunsParams{Limit: 2})
	require.NoError(t, err)
	require.Len(t, page.Runs, 2)
	require.NotEmpty(t, page.NextCursor)
	seen := len(page.Runs)
	for page.NextCursor != "" {
		page, err = eng.ListRuns(ctx, engine.ListRunsParams{Limit: 2, Cursor: page.NextCursor})
		require.NoError(t, err)
		seen += len(page.Runs)
	}
	require.Equal(t, 5, seen)
	page, err = eng.ListRuns(ctx, engine.ListRunsParams{Status: "succeeded"})
	require.NoError(t, err)
	require.Empty(t, page.Runs)
	_, err = eng.ListRuns(ctx, engine.ListRunsParams{Cursor: "garbage"})
	require.ErrorIs(t, err, engine.ErrInvalid)
}

func TestBackoffSchedule(t *testing.T) {
	t.Parallel()
	b := engine.DefaultBackoff()
	var got []float64
	for attempt := 1; attempt <= 6; attempt++ {
		got = append(got, b.Delay(attempt).Seconds())
	}
	require.Equal(t, []float64{1, 2, 4, 8, 16, 16}, got)
}

// TestQueueActionNotifies: a queue pause or resume writes its event and
// notifies baton_events in the same transaction, as every state change does.
func TestQueueActionNotifies(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	conn, err := eng.Pool().Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, "LISTEN baton_events")
	require.NoError(t, err)
	require.NoError(t, pgx.BeginFunc(ctx, eng.Pool(), func(tx pgx.Tx) error {
		return eng.RecordQueueActionTx(ctx, tx, "queue_paused", "default", "tester")
	}))
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err := conn.Conn().WaitForNotification(waitCtx)
	require.NoError(t, err)
	require.Contains(t, n.Payload, `"kind" : "queue_paused"`)
}
