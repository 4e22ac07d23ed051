package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/jobs"
)

// TestAttemptOutlivingItsJobIsRecorded: an attempt that runs past River's
// job timeout (here a Go function that ignores its context) used to return
// without recording its failure, so River discarded its job and the run
// stayed running forever. Its last attempt must make the task dead.
func TestAttemptOutlivingItsJobIsRecorded(t *testing.T) {
	t.Parallel()
	const grace = 200 * time.Millisecond
	h := setupWith(t, map[string]executor.GoFunc{
		"stubborn": func(ctx context.Context, _ json.RawMessage) (any, error) {
			<-ctx.Done()                             // the task's own timeout
			time.Sleep(grace + 300*time.Millisecond) // then past the job's: a task that ignores its context
			return nil, errors.New("gave up late")
		},
	}, func(o *jobs.ClientOptions) { o.TimeoutGrace = grace })
	_, err := h.eng.ApplyTaskType(context.Background(), &engine.TaskTypeSpec{Name: "stubborn", Executor: "go", MaxRetries: ptr(0), Timeout: "1s"})
	require.NoError(t, err)
	h.apply(t, "name: late\nsteps: [{name: work, type: stubborn, params: {function: stubborn}}]\n")

	run, _, err := h.eng.StartRun(context.Background(), engine.StartParams{Workflow: "late"})
	require.NoError(t, err)
	final := h.waitRun(t, run.ID, 20*time.Second)
	require.Equal(t, engine.RunFailed, final.Status)
	task := final.Tasks[0]
	require.Equal(t, engine.TaskDead, task.Status)
	require.Contains(t, task.Error, "gave up late")
	require.Equal(t, "discarded", riverJobState(t, h.eng, *task.RiverJobID))
}

// TestDeadTaskJobIsDiscarded: a task that dies of a permanent error on its
// first attempt leaves its River job discarded (River's "failed for good"),
// not cancelled (an operator's act).
func TestDeadTaskJobIsDiscarded(t *testing.T) {
	t.Parallel()
	h := setupWith(t, map[string]executor.GoFunc{
		"refuse": func(context.Context, json.RawMessage) (any, error) {
			return nil, executor.Permanent(errors.New("no"))
		},
	}, nil)
	_, err := h.eng.ApplyTaskType(context.Background(), &engine.TaskTypeSpec{Name: "refuser", Executor: "go", MaxRetries: ptr(3)})
	require.NoError(t, err)
	h.apply(t, "name: refused\nsteps: [{name: work, type: refuser, params: {function: refuse}}]\n")
	run, _, err := h.eng.StartRun(context.Background(), engine.StartParams{Workflow: "refused"})
	require.NoError(t, err)
	final := h.waitRun(t, run.ID, 20*time.Second)
	require.Equal(t, engine.TaskDead, final.Tasks[0].Status)
	require.Equal(t, 1, final.Tasks[0].Attempts)
	require.Equal(t, "discarded", riverJobState(t, h.eng, *final.Tasks[0].RiverJobID))
}

// TestCancelledAttemptIsAudited: an attempt interrupted by a cancel used to
// leave no event (attempts: 1, attempts endpoint empty).
func TestCancelledAttemptIsAudited(t *testing.T) {
	t.Parallel()
	h := setupWith(t, map[string]executor.GoFunc{
		"wait": func(ctx context.Context, _ json.RawMessage) (any, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
	}, nil)
	_, err := h.eng.ApplyTaskType(context.Background(), &engine.TaskTypeSpec{Name: "waiter", Executor: "go"})
	require.NoError(t, err)
	h.apply(t, "name: waits\nsteps: [{name: work, type: waiter, params: {function: wait}}]\n")
	ctx := context.Background()
	run, _, err := h.eng.StartRun(ctx, engine.StartParams{Workflow: "waits"})
	require.NoError(t, err)

	taskID := waitTaskStatus(t, h.eng, run.ID, "work", engine.TaskRunning, 10*time.Second)
	require.NoError(t, h.eng.CancelTask(ctx, taskID, "tester"))

	deadline := time.Now().Add(10 * time.Second)
	for {
		events, err := h.eng.ListTaskAttempts(ctx, taskID)
		require.NoError(t, err)
		var interrupted *engine.Event
		for _, ev := range events {
			if ev.Kind == "task_attempt_interrupted" {
				interrupted = ev
			}
		}
		if interrupted != nil {
			require.Equal(t, 1, *interrupted.Attempt)
			require.Contains(t, interrupted.Error, "cancelled")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no task_attempt_interrupted event after the cancel; events: %+v", events)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	final := h.waitRun(t, run.ID, 10*time.Second)
	require.Equal(t, engine.TaskCancelled, final.Tasks[0].Status)
}

// TestReconcilerFinishesOrphanedTasks: a task whose River job was finalized
// (or deleted) without its outcome being recorded is recorded dead by the
// reconciler, with its dead letter, attention flag and the run's end; a
// second pass finds nothing.
func TestReconcilerFinishesOrphanedTasks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := engine.New(testdb.NewPool(t), engine.Options{})
	_, err := eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "noop", Executor: "sleep"})
	require.NoError(t, err)
	spec, err := engine.ParseSpec([]byte("name: two\nsteps:\n  - {name: a, type: noop, params: {duration: 0s}}\n  - {name: cleanup, type: noop, depends_on: [a], when: on_failure, params: {duration: 0s}}\n"))
	require.NoError(t, err)
	_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
	require.NoError(t, err)

	discarded, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "two"})
	require.NoError(t, err)
	gone, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "two"})
	require.NoError(t, err)
	healthy, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "two"})
	require.NoError(t, err)
	_, err = eng.Pool().Exec(ctx, `UPDATE river_job SET state = 'discarded', attempt = 1, finalized_at = now() - interval '1 minute',
		errors = ARRAY['{"attempt":1,"error":"connection refused while recording"}'::jsonb]
		WHERE id = (SELECT river_job_id FROM baton.run_tasks WHERE run_id = $1 AND step_name = 'a')`, discarded.ID)
	require.NoError(t, err)
	_, err = eng.Pool().Exec(ctx, `DELETE FROM river_job WHERE id = (SELECT river_job_id FROM baton.run_tasks WHERE run_id = $1 AND step_name = 'a')`, gone.ID)
	require.NoError(t, err)

	n, err := eng.ReconcileTasks(ctx, 10*time.Second, 1000)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	for _, id := range []int64{discarded.ID, gone.ID} {
		run, err := eng.GetRun(ctx, id)
		require.NoError(t, err)
		require.Equal(t, engine.RunRunning, run.Status, "run %d goes on with its on_failure branch", id)
		require.NotEmpty(t, run.Attention)
		a := taskByStep(run, "a")
		require.Equal(t, engine.TaskDead, a.Status)
		require.Contains(t, a.Error, "outcome never recorded")
		require.Equal(t, engine.TaskQueued, taskByStep(run, "cleanup").Status, "on_failure branch queued")
	}
	run, err := eng.GetRun(ctx, discarded.ID)
	require.NoError(t, err)
	require.Contains(t, taskByStep(run, "a").Error, "connection refused while recording")
	var letters int
	require.NoError(t, eng.Pool().QueryRow(ctx, `SELECT count(*) FROM baton.dead_letters`).Scan(&letters))
	require.Equal(t, 2, letters)

	run, err = eng.GetRun(ctx, healthy.ID)
	require.NoError(t, err)
	require.Equal(t, engine.TaskQueued, taskByStep(run, "a").Status, "a task with a live job is left alone")

	n, err = eng.ReconcileTasks(ctx, 10*time.Second, 1000)
	require.NoError(t, err)
	require.Zero(t, n)
}

// TestReconcilerRunsPeriodically: the reconcile job runs on its own and
// repairs a task whose job was finalized before any worker saw it.
func TestReconcilerRunsPeriodically(t *testing.T) {
	t.Parallel()
	h := setupWith(t, nil, func(o *jobs.ClientOptions) {
		o.ReconcileEvery = time.Second
		o.ReconcileGrace = time.Millisecond
	})
	h.apply(t, "name: lost\nsteps: [{name: a, type: noop}]\n")
	ctx := context.Background()
	var id int64
	require.NoError(t, pgx.BeginFunc(ctx, h.eng.Pool(), func(tx pgx.Tx) error {
		ids, err := h.eng.StartRunsTx(ctx, tx, []engine.StartParams{{Workflow: "lost"}})
		if err != nil {
			return err
		}
		id = ids[0]
		_, err = tx.Exec(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = now()
			WHERE id = (SELECT river_job_id FROM baton.run_tasks WHERE run_id = $1)`, id)
		return err
	}))
	final := h.waitRun(t, id, 20*time.Second)
	require.Equal(t, engine.RunFailed, final.Status)
	require.Equal(t, engine.TaskDead, final.Tasks[0].Status)
}

func riverJobState(t *testing.T, eng *engine.Engine, jobID int64) string {
	t.Helper()
	var state string
	require.NoError(t, eng.Pool().QueryRow(context.Background(), `SELECT state::text FROM river_job WHERE id = $1`, jobID).Scan(&state))
	return state
}

// waitTaskStatus polls a run until its step has the status, and returns the
// task's id.
func waitTaskStatus(t *testing.T, eng *engine.Engine, runID int64, step, status string, within time.Duration) int64 {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		run, err := eng.GetRun(context.Background(), runID)
		require.NoError(t, err)
		if task := taskByStep(run, step); task != nil && task.Status == status {
			return task.ID
		}
		if time.Now().After(deadline) {
			t.Fatalf("step %s of run %d not %s after %s", step, runID, status, within)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

// TestSucceededTaskJobs: by default a succeeded task's River job is deleted
// in the transaction that records the success (River's completer then finds
// nothing to complete); with a task job retention, River completes it and
// the row stays.
func TestSucceededTaskJobs(t *testing.T) {
	t.Parallel()
	const def = "name: two\nsteps:\n  - {name: a, type: noop}\n  - {name: b, type: noop, depends_on: [a]}\n"
	taskJobs := func(t *testing.T, h *harness, runID int64) map[string]int {
		t.Helper()
		rows, err := h.eng.Pool().Query(context.Background(), `
			SELECT j.state::text FROM baton.run_tasks t JOIN river_job j ON j.id = t.river_job_id WHERE t.run_id = $1`, runID)
		require.NoError(t, err)
		states, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		count := map[string]int{}
		for _, s := range states {
			count[s]++
		}
		return count
	}

	t.Run("deleted with the success", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		h.apply(t, def)
		run, _, err := h.eng.StartRun(context.Background(), engine.StartParams{Workflow: "two"})
		require.NoError(t, err)
		require.Equal(t, engine.RunSucceeded, h.waitRun(t, run.ID, 20*time.Second).Status)
		require.Empty(t, taskJobs(t, h, run.ID), "no job row left once the run has succeeded")
	})

	t.Run("kept for the retention", func(t *testing.T) {
		t.Parallel()
		h := setupWith(t, nil, func(o *jobs.ClientOptions) { o.TaskJobRetention = time.Hour })
		h.apply(t, def)
		run, _, err := h.eng.StartRun(context.Background(), engine.StartParams{Workflow: "two"})
		require.NoError(t, err)
		require.Equal(t, engine.RunSucceeded, h.waitRun(t, run.ID, 20*time.Second).Status)
		// River completes the last job after its worker returns.
		deadline := time.Now().Add(10 * time.Second)
		for taskJobs(t, h, run.ID)["completed"] != 2 {
			require.True(t, time.Now().Before(deadline), "jobs: %v", taskJobs(t, h, run.ID))
			time.Sleep(20 * time.Millisecond) // polling interval
		}
	})

	t.Run("negative retention refused", func(t *testing.T) {
		t.Parallel()
		_, err := jobs.NewClient(testdb.NewPool(t), jobs.ClientOptions{TaskJobRetention: -time.Second})
		require.ErrorContains(t, err, "negative")
	})
}
