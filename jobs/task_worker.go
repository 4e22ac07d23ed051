// Package jobs holds Baton's River workers and periodic jobs: the task
// runner that executes workflow steps, and housekeeping such as event
// partition maintenance. It also builds the River client that runs them.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
)

// TaskWorker runs one attempt of a workflow step: it marks the task running,
// renders its params, runs its executor under the task's timeout, and
// records the outcome through the engine, which advances the run.
type TaskWorker struct {
	river.WorkerDefaults[engine.TaskArgs]

	engine    *engine.Engine
	executors *executor.Registry
	logger    *slog.Logger
	node      string
	backoff   engine.Backoff
}

// TaskWorkerOptions configures a TaskWorker.
type TaskWorkerOptions struct {
	Engine    *engine.Engine
	Executors *executor.Registry
	Logger    *slog.Logger
	// Node names this worker process in task events.
	Node string
}

// NewTaskWorker returns a task worker.
func NewTaskWorker(opts TaskWorkerOptions) *TaskWorker {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &TaskWorker{
		engine:    opts.Engine,
		executors: opts.Executors,
		logger:    logger,
		node:      opts.Node,
		backoff:   engine.DefaultBackoff(),
	}
}

// Timeout disables River's own job timeout: the worker applies each task's
// timeout itself once it has loaded the task.
func (w *TaskWorker) Timeout(*river.Job[engine.TaskArgs]) time.Duration { return -1 }

// NextRetry schedules the retry after a transient failure on the task's
// backoff schedule.
func (w *TaskWorker) NextRetry(job *river.Job[engine.TaskArgs]) time.Time {
	return time.Now().Add(w.backoff.Delay(job.Attempt))
}

// Work implements river.Worker.
func (w *TaskWorker) Work(ctx context.Context, job *river.Job[engine.TaskArgs]) error {
	task, err := w.engine.BeginTask(ctx, job.Args.TaskID, job.Attempt)
	if errors.Is(err, engine.ErrNotRunnable) {
		// Cancelled or already finished (a duplicate delivery): nothing to do.
		return nil
	}
	if err != nil {
		return err
	}

	start := time.Now()
	params, output, execErr := w.execute(ctx, task, job.Attempt)
	attempt := engine.Attempt{
		TaskID:         task.ID,
		Attempt:        job.Attempt,
		ResolvedParams: params,
		Duration:       time.Since(start),
		Node:           w.node,
	}

	if execErr == nil {
		attempt.Output = output
		_, err := w.engine.SucceedTask(ctx, attempt, func(tx pgx.Tx) error {
			_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
			return err
		})
		return err
	}

	class := executor.ClassOf(execErr)
	attempt.Error = execErr.Error()
	attempt.ErrorClass = string(class)
	attempt.Final = class == executor.ClassPermanent || job.Attempt >= job.MaxAttempts
	if !attempt.Final {
		next := time.Now().Add(w.backoff.Delay(job.Attempt))
		attempt.NextRetryAt = &next
	}
	if _, err := w.engine.FailTask(ctx, attempt); err != nil {
		return fmt.Errorf("record failure of task %d (%w): %w", task.ID, execErr, err)
	}
	w.logger.InfoContext(ctx, "task attempt failed",
		slog.Int64("run_id", task.RunID), slog.String("step", task.Step), slog.Int("attempt", job.Attempt),
		slog.String("error_class", string(class)), slog.Bool("final", attempt.Final), slog.String("error", attempt.Error))
	if attempt.Final {
		// The task's failure is recorded; stop River from retrying it.
		return river.JobCancel(execErr)
	}
	return execErr
}

// execute renders the task's params and runs its executor. It returns the
// rendered params (nil when no rendering was needed) and the output.
func (w *TaskWorker) execute(ctx context.Context, task *engine.Task, attempt int) (json.RawMessage, json.RawMessage, error) {
	params := task.Params
	var resolved json.RawMessage
	if engine.ParamsNeedRender(params) {
		data, err := w.engine.TemplateDataFor(ctx, task)
		if err != nil {
			return nil, nil, err
		}
		rendered, err := engine.RenderParams(params, data)
		if err != nil {
			return nil, nil, executor.Permanent(fmt.Errorf("render params: %w", err))
		}
		params, resolved = rendered, rendered
	}

	ex, err := w.executors.Get(task.Executor)
	if err != nil {
		return resolved, nil, executor.Permanent(err)
	}
	execCtx, cancel := context.WithTimeout(ctx, task.Timeout)
	defer cancel()
	res, err := ex.Execute(execCtx, executor.Request{
		RunID:              task.RunID,
		TaskID:             task.ID,
		Step:               task.Step,
		TaskType:           task.TaskType,
		Attempt:            attempt,
		Params:             params,
		PermanentExitCodes: task.PermanentExitCodes,
	})
	if err != nil {
		if execCtx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			err = executor.Transient(fmt.Errorf("timed out after %s: %w", task.Timeout, err))
		}
		return resolved, nil, err
	}
	return resolved, res.Output, nil
}
