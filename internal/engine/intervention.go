package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// Manual interventions. Each is one transaction in PostgreSQL (the same
// functions SQL users call: baton.pause_run, baton.retry_task, ...) that
// records who acted in the run's events. An action that does not apply to
// the run or task's current state fails with ErrConflict.

// CancelRun cancels a run that has not finished. It returns false when the
// run had already finished.
func (e *Engine) CancelRun(ctx context.Context, id int64, actor string) (bool, error) {
	ok, err := e.queries.RunCancel(ctx, e.pool, &dbsqlc.RunCancelParams{ID: id, Actor: actorOrDefault(actor)})
	if err != nil {
		return false, translateError(err, fmt.Sprintf("cancel run %d", id))
	}
	return ok, nil
}

// PauseRun pauses a run: running tasks finish, nothing new starts. It
// returns false when the run was already paused.
func (e *Engine) PauseRun(ctx context.Context, id int64, actor string) (bool, error) {
	ok, err := e.queries.RunPause(ctx, e.pool, &dbsqlc.RunPauseParams{ID: id, Actor: actorOrDefault(actor)})
	if err != nil {
		return false, translateError(err, fmt.Sprintf("pause run %d", id))
	}
	return ok, nil
}

// ResumeRun resumes a paused run. It returns false when the run was not paused.
func (e *Engine) ResumeRun(ctx context.Context, id int64, actor string) (bool, error) {
	ok, err := e.queries.RunResume(ctx, e.pool, &dbsqlc.RunResumeParams{ID: id, Actor: actorOrDefault(actor)})
	if err != nil {
		return false, translateError(err, fmt.Sprintf("resume run %d", id))
	}
	return ok, nil
}

// GetTask returns a run's task by step name.
func (e *Engine) GetTask(ctx context.Context, runID int64, step string) (*Task, error) {
	row, err := e.queries.RunTaskGetByStep(ctx, e.pool, &dbsqlc.RunTaskGetByStepParams{RunID: runID, StepName: step})
	if err != nil {
		return nil, translateError(err, fmt.Sprintf("step %q of run %d", step, runID))
	}
	return taskFromRow(row), nil
}

// RetryTask queues a dead, failed, cancelled or skipped task again and lets
// its run continue from it. A non-nil params (a JSON object) is merged over
// the task's params (its task type's defaults under its step's params): each
// top-level key given replaces that key, a key given as null is removed, and
// the other keys are kept.
func (e *Engine) RetryTask(ctx context.Context, taskID int64, params json.RawMessage, actor string) error {
	if err := checkNewParams(params); err != nil {
		return err
	}
	_, err := e.queries.RunTaskRetry(ctx, e.pool, &dbsqlc.RunTaskRetryParams{ID: taskID, Params: params, Actor: actorOrDefault(actor)})
	return translateError(err, fmt.Sprintf("retry task %d", taskID))
}

// SkipTask marks a task skipped by hand; its dependents proceed as if it succeeded.
func (e *Engine) SkipTask(ctx context.Context, taskID int64, actor string) error {
	_, err := e.queries.RunTaskSkip(ctx, e.pool, &dbsqlc.RunTaskSkipParams{ID: taskID, Actor: actorOrDefault(actor)})
	return translateError(err, fmt.Sprintf("skip task %d", taskID))
}

// CancelTask cancels one unfinished task.
func (e *Engine) CancelTask(ctx context.Context, taskID int64, actor string) error {
	_, err := e.queries.RunTaskCancel(ctx, e.pool, &dbsqlc.RunTaskCancelParams{ID: taskID, Actor: actorOrDefault(actor)})
	return translateError(err, fmt.Sprintf("cancel task %d", taskID))
}

// ListTaskAttempts returns a task's events in order: each attempt's outcome
// (with its number, duration, error, error class, node and next retry time)
// and the interventions on it.
func (e *Engine) ListTaskAttempts(ctx context.Context, taskID int64) ([]*Event, error) {
	rows, err := e.queries.TaskEventListByTask(ctx, e.pool, taskID)
	if err != nil {
		return nil, translateError(err, fmt.Sprintf("events of task %d", taskID))
	}
	out := make([]*Event, len(rows))
	for i, r := range rows {
		out[i] = eventFromRow(r)
	}
	return out, nil
}

// ListAttention lists runs that need an operator, newest first.
func (e *Engine) ListAttention(ctx context.Context, limit int) ([]*Run, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := e.queries.RunListAttention(ctx, e.pool, &dbsqlc.RunListAttentionParams{MaxRows: int32(limit)})
	if err != nil {
		return nil, translateError(err, "list runs needing attention")
	}
	out := make([]*Run, len(rows))
	for i, row := range rows {
		out[i] = runFromRow(row)
	}
	return out, nil
}

func actorOrDefault(actor string) string {
	if actor == "" {
		return "api"
	}
	return actor
}
