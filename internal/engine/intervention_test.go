package engine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
)

// killStep fails a queued task for good, as a worker does after a permanent error.
func killStep(t *testing.T, eng *engine.Engine, runID int64, step string) {
	t.Helper()
	task, err := eng.GetTask(context.Background(), runID, step)
	require.NoError(t, err)
	require.Equal(t, engine.TaskQueued, task.Status)
	ok, err := eng.FailTask(context.Background(), engine.Attempt{
		TaskID: task.ID, Attempt: 1, Error: "HTTP 400: bad request", ErrorClass: "permanent", Final: true,
	})
	require.NoError(t, err)
	require.True(t, ok)
}

// succeedStep records a success of a queued task.
func succeedStep(t *testing.T, eng *engine.Engine, runID int64, step string) {
	t.Helper()
	task, err := eng.GetTask(context.Background(), runID, step)
	require.NoError(t, err)
	require.Equal(t, engine.TaskQueued, task.Status)
	recorded, err := eng.SucceedTasks(context.Background(), []engine.Attempt{{TaskID: task.ID, Attempt: 1}}, nil)
	require.NoError(t, err)
	require.Len(t, recorded, 1)
}

const pipeline = `
name: ship
steps:
  - {name: build, type: noop}
  - {name: deploy, type: noop, depends_on: [build]}
  - {name: verify, type: noop, depends_on: [deploy]}
  - {name: rollback, type: noop, depends_on: [deploy], when: on_failure}
`

func TestDeadTaskGoesToDeadLetterQueueAndResubmitContinuesTheRun(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	applyWorkflow(t, eng, pipeline)
	run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "ship"})
	require.NoError(t, err)
	succeedStep(t, eng, run.ID, "build")
	killStep(t, eng, run.ID, "deploy")
	final := finish(t, eng, run.ID, nil)

	require.Equal(t, engine.RunFailed, final.Status)
	require.Equal(t, map[string]string{"build": "succeeded", "deploy": "dead", "verify": "skipped", "rollback": "succeeded"}, statuses(final))
	require.Contains(t, final.Attention, "step deploy is dead")

	page, err := eng.ListDeadLetters(ctx, engine.DeadLetterFilter{Workflow: "ship"})
	require.NoError(t, err)
	require.Len(t, page.DeadLetters, 1)
	dl := page.DeadLetters[0]
	require.Equal(t, "deploy", dl.Step)
	require.Equal(t, "permanent", dl.ErrorClass)
	require.Equal(t, 1, dl.Attempts)
	attention, err := eng.ListAttention(ctx, 10)
	require.NoError(t, err)
	require.Len(t, attention, 1)

	_, err = eng.ResubmitDeadLetter(ctx, dl.ID, json.RawMessage(`{"duration":"0s","fixed":true}`), "alice")
	require.NoError(t, err)
	got, err := eng.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, engine.RunRunning, got.Status)
	require.Empty(t, got.Attention)
	require.Equal(t, "queued", statuses(got)["deploy"])
	require.Equal(t, "pending", statuses(got)["verify"])

	final = finish(t, eng, run.ID, nil)
	require.Equal(t, engine.RunSucceeded, final.Status, final.Error)
	require.Equal(t, "succeeded", statuses(final)["verify"])
	deploy, err := eng.GetTask(ctx, run.ID, "deploy")
	require.NoError(t, err)
	require.JSONEq(t, `{"duration":"0s","fixed":true}`, string(deploy.Params))

	stats, err := eng.GetDeadLetterStats(ctx)
	require.NoError(t, err)
	require.Zero(t, stats.Size)
	events, err := eng.ListTaskAttempts(ctx, deploy.ID)
	require.NoError(t, err)
	var kinds []string
	for _, ev := range events {
		kinds = append(kinds, ev.Kind)
		if ev.Kind == "task_resubmitted" {
			require.Equal(t, "alice", ev.Actor)
		}
	}
	require.Equal(t, []string{"task_dead", "run_needs_attention", "task_resubmitted", "task_succeeded"}, kinds)
}

func TestSkipDeadTaskLetsDependentsRun(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	applyWorkflow(t, eng, pipeline)
	run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "ship"})
	require.NoError(t, err)
	succeedStep(t, eng, run.ID, "build")
	killStep(t, eng, run.ID, "deploy")
	finish(t, eng, run.ID, nil)

	deploy, err := eng.GetTask(ctx, run.ID, "deploy")
	require.NoError(t, err)
	require.NoError(t, eng.SkipTask(ctx, deploy.ID, "bob"))
	final := finish(t, eng, run.ID, nil)
	require.Equal(t, engine.RunSucceeded, final.Status, final.Error)
	require.Equal(t, "skipped", statuses(final)["deploy"])
	require.Equal(t, "succeeded", statuses(final)["verify"])
	require.Empty(t, final.Attention)
	err = eng.SkipTask(ctx, deploy.ID, "bob")
	require.ErrorIs(t, err, engine.ErrConflict)
}

func TestPauseHoldsNewTasksUntilResume(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	applyWorkflow(t, eng, pipeline)
	run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "ship"})
	require.NoError(t, err)

	ok, err := eng.PauseRun(ctx, run.ID, "carol")
	require.NoError(t, err)
	require.True(t, ok)
	got, err := eng.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, engine.RunPaused, got.Status)
	require.Equal(t, "pending", statuses(got)["build"], "the waiting task is held back")
	var available int
	require.NoError(t, eng.Pool().QueryRow(ctx, "SELECT count(*) FROM river_job WHERE state = 'available'").Scan(&available))
	require.Zero(t, available)

	ok, err = eng.PauseRun(ctx, run.ID, "carol")
	require.NoError(t, err)
	require.False(t, ok, "pausing twice is a no-op")

	ok, err = eng.ResumeRun(ctx, run.ID, "carol")
	require.NoError(t, err)
	require.True(t, ok)
	final := finish(t, eng, run.ID, nil)
	require.Equal(t, engine.RunSucceeded, final.Status)

	_, err = eng.PauseRun(ctx, run.ID, "carol")
	require.ErrorIs(t, err, engine.ErrConflict)
}

func TestCancelTaskSkipsDependentsAndFailsRun(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	applyWorkflow(t, eng, pipeline)
	run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "ship"})
	require.NoError(t, err)
	build, err := eng.GetTask(ctx, run.ID, "build")
	require.NoError(t, err)
	require.NoError(t, eng.CancelTask(ctx, build.ID, "dave"))
	final := finish(t, eng, run.ID, nil)
	require.Equal(t, engine.RunFailed, final.Status)
	require.Equal(t, map[string]string{"build": "cancelled", "deploy": "skipped", "verify": "skipped", "rollback": "skipped"}, statuses(final))

	require.ErrorIs(t, eng.CancelTask(ctx, build.ID, "dave"), engine.ErrConflict)
	require.NoError(t, eng.RetryTask(ctx, build.ID, nil, "dave"))
	final = finish(t, eng, run.ID, nil)
	require.Equal(t, engine.RunSucceeded, final.Status, final.Error)
	require.Equal(t, "skipped", statuses(final)["rollback"])
}

func TestRetryRefusesUnfinishedTask(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	applyWorkflow(t, eng, pipeline)
	run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "ship"})
	require.NoError(t, err)
	build, err := eng.GetTask(ctx, run.ID, "build")
	require.NoError(t, err)
	err = eng.RetryTask(ctx, build.ID, nil, "")
	require.ErrorIs(t, err, engine.ErrConflict)
	require.Contains(t, err.Error(), "is queued")
	require.ErrorIs(t, eng.RetryTask(ctx, 987654, nil, ""), engine.ErrNotFound)
}

func TestDiscardAndPurgeDeadLetters(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	applyWorkflow(t, eng, pipeline)
	run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "ship"})
	require.NoError(t, err)
	killStep(t, eng, run.ID, "build")
	page, err := eng.ListDeadLetters(ctx, engine.DeadLetterFilter{ErrorClass: "permanent"})
	require.NoError(t, err)
	require.Len(t, page.DeadLetters, 1)
	require.NoError(t, eng.DiscardDeadLetter(ctx, page.DeadLetters[0].ID, "erin"))
	got, err := eng.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Empty(t, got.Attention, "a discarded entry no longer needs attention")
	require.ErrorIs(t, eng.DiscardDeadLetter(ctx, page.DeadLetters[0].ID, "erin"), engine.ErrNotFound)

	run2, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "ship"})
	require.NoError(t, err)
	killStep(t, eng, run2.ID, "build")
	_, err = eng.PurgeDeadLetters(ctx, 0)
	require.ErrorIs(t, err, engine.ErrInvalid, "a retention under an hour would purge entries just created")
	_, err = eng.Pool().Exec(ctx, `UPDATE baton.dead_letters SET created_at = now() - interval '2 hours' WHERE run_id = $1`, run2.ID)
	require.NoError(t, err)
	n, err := eng.PurgeDeadLetters(ctx, time.Hour)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

// TestNewParamsMergeOverTaskParams checks that params given to a resubmit or
// a retry are merged over the task's params (its task type's defaults under
// its step's params) instead of replacing them: keys given replace, keys
// given as null are removed, the others stay.
func TestNewParamsMergeOverTaskParams(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	_, err := eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "call", Executor: "sleep",
		Defaults: json.RawMessage(`{"duration":"0s","method":"GET","headers":{"A":"1"}}`)})
	require.NoError(t, err)
	applyWorkflow(t, eng, `
name: merge
steps:
  - {name: call, type: call, params: {url: "https://a.example", tries: 1}}
`)
	run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "merge"})
	require.NoError(t, err)
	killStep(t, eng, run.ID, "call")
	finish(t, eng, run.ID, nil)

	page, err := eng.ListDeadLetters(ctx, engine.DeadLetterFilter{Workflow: "merge"})
	require.NoError(t, err)
	require.Len(t, page.DeadLetters, 1)
	_, err = eng.ResubmitDeadLetter(ctx, page.DeadLetters[0].ID, json.RawMessage(`{"url":"https://b.example","fixed":true}`), "alice")
	require.NoError(t, err)
	task, err := eng.GetTask(ctx, run.ID, "call")
	require.NoError(t, err)
	require.JSONEq(t, `{"duration":"0s","method":"GET","headers":{"A":"1"},"url":"https://b.example","tries":1,"fixed":true}`, string(task.Params))

	killStep(t, eng, run.ID, "call")
	finish(t, eng, run.ID, nil)
	require.NoError(t, eng.RetryTask(ctx, task.ID, json.RawMessage(`{"tries":2,"fixed":null,"headers":{"B":"2"}}`), "bob"))
	task, err = eng.GetTask(ctx, run.ID, "call")
	require.NoError(t, err)
	require.JSONEq(t, `{"duration":"0s","method":"GET","headers":{"B":"2"},"url":"https://b.example","tries":2}`, string(task.Params))

	// Without params the task keeps the ones it has.
	killStep(t, eng, run.ID, "call")
	finish(t, eng, run.ID, nil)
	require.NoError(t, eng.RetryTask(ctx, task.ID, nil, "bob"))
	again, err := eng.GetTask(ctx, run.ID, "call")
	require.NoError(t, err)
	require.JSONEq(t, string(task.Params), string(again.Params))
}

// TestOnlyTaskTypesSetEnvAllowlist: exec's env_allowlist decides which of the
// worker's environment variables a command sees, so only a task type's
// defaults may set it: not a workflow step, nor new params of a retry or a
// resubmit.
func TestOnlyTaskTypesSetEnvAllowlist(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	_, err := eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "sh", Executor: "exec",
		Defaults: json.RawMessage(`{"env_allowlist": ["PATH"]}`)})
	require.NoError(t, err)

	spec, err := engine.ParseSpec([]byte("name: leak\nsteps: [{name: a, type: sh, params: {command: env, env_allowlist: [DATABASE_URL]}}]\n"))
	require.NoError(t, err)
	_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
	require.ErrorIs(t, err, engine.ErrInvalid)
	require.ErrorContains(t, err, "steps[0].params.env_allowlist: only a task type's defaults may set env_allowlist")

	applyWorkflow(t, eng, pipeline)
	run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "ship"})
	require.NoError(t, err)
	killStep(t, eng, run.ID, "build")
	task, err := eng.GetTask(ctx, run.ID, "build")
	require.NoError(t, err)
	err = eng.RetryTask(ctx, task.ID, json.RawMessage(`{"env_allowlist": ["DATABASE_URL"]}`), "tester")
	require.ErrorIs(t, err, engine.ErrInvalid)
	require.ErrorContains(t, err, "params.env_allowlist")

	letters, err := eng.ListDeadLetters(ctx, engine.DeadLetterFilter{})
	require.NoError(t, err)
	require.NotEmpty(t, letters.DeadLetters)
	_, err = eng.ResubmitDeadLetter(ctx, letters.DeadLetters[0].ID, json.RawMessage(`{"env_allowlist": ["HOME"]}`), "tester")
	require.ErrorIs(t, err, engine.ErrInvalid)
}
