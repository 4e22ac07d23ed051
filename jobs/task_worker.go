// Package jobs holds Baton's River workers and periodic jobs: the task
// runner that executes workflow steps, and housekeeping such as event
// partition maintenance. It also builds the River client that runs them.
package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/placement"
	"github.com/baton-run/baton/internal/resilience"
)

// TaskWorker runs one attempt of a workflow step: it renders the step's
// params, runs its executor under the task's timeout, and records the
// outcome through the engine, which advances the run. Successes of many
// workers are recorded together, one transaction per batch.
type TaskWorker struct {
	river.WorkerDefaults[engine.TaskArgs]

	engine    *engine.Engine
	executors *executor.Registry
	breakers  *resilience.Breakers
	logger    *slog.Logger
	node      string
	// placement tracks this node's free resources (nil: no placement check).
	placement *placement.Tracker
	// timeoutGrace, recordFor and jobsOnSuccess: see TaskWorkerOptions.
	timeoutGrace  time.Duration
	recordFor     time.Duration
	jobsOnSuccess engine.JobsOnSuccess
	// nextRetry holds, per job id, when the job's retry was scheduled by
	// Work, for NextRetry (River calls it right after Work returns the error).
	nextRetry sync.Map

	started   *batcher[engine.Started]
	succeeded *batcher[engine.Attempt]
	// definitions reads the tasks whose jobs carry only their task ids;
	// templates reads the run input and upstream results templates use.
	definitions *loader[engine.TaskDefinition]
	templates   *loader[engine.TemplateData]
	// conns[i] is used only by the succeeded batcher's flusher i.
	conns [successFlushers]*pgxpool.Conn
}

// flushConn returns the connection reserved for a flusher. A warm
// connection keeps the state machine's prepared plans.
func (w *TaskWorker) flushConn(ctx context.Context, flusher int) (*pgxpool.Conn, error) {
	if w.conns[flusher] == nil {
		conn, err := w.engine.Pool().Acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("acquire connection: %w", err)
		}
		w.conns[flusher] = conn
	}
	return w.conns[flusher], nil
}

func (w *TaskWorker) releaseFlushConn(flusher int) {
	if w.conns[flusher] != nil {
		w.conns[flusher].Release()
		w.conns[flusher] = nil
	}
}

// TaskWorkerOptions configures a TaskWorker.
type TaskWorkerOptions struct {
	Engine    *engine.Engine
	Executors *executor.Registry
	Logger    *slog.Logger
	// Node names this worker process in task events.
	Node string
	// Breakers guards task types that have a circuit breaker (nil: none are guarded).
	Breakers *resilience.Breakers
	// Placement tracks the node's free resources: a task that declares
	// resources starts only when they fit (nil: no check).
	Placement *placement.Tracker
	// TimeoutGrace is how long past a task's timeout River lets its job run,
	// for rendering and recording (default 5 s).
	TimeoutGrace time.Duration
	// RecordFor is how long a worker keeps trying to record an attempt's
	// outcome while the database is unreachable (default 1 minute). The
	// outcome is kept meanwhile, so a finished task does not run again
	// after a database restart.
	RecordFor time.Duration
	// JobsOnSuccess says whether the River job of a task recorded as
	// succeeded is deleted in the recording transaction (engine.DeleteJobs)
	// or left for River to complete (engine.KeepJobs, the zero value); see
	// ClientOptions.TaskJobRetention.
	JobsOnSuccess engine.JobsOnSuccess
}

// maxBatch caps how many attempts one transaction records.
const maxBatch = 500

// successFlushers is how many batches of successes are recorded at once, each
// in its own transaction on its own connection (runs are locked in id order,
// so they cannot deadlock, and each run has one flusher, so they do not wait
// on each other).
const successFlushers = 2

// startedMarkDelay is how long an attempt runs before it is recorded as
// running. Attempts that finish sooner are recorded only once, with their
// outcome (which carries their start time).
const startedMarkDelay = 50 * time.Millisecond

// NewTaskWorker returns a task worker. Its batchers run between start and stop.
func NewTaskWorker(opts TaskWorkerOptions) *TaskWorker {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &TaskWorker{
		engine:    opts.Engine,
		executors: opts.Executors,
		breakers:  opts.Breakers,
		logger:    logger,
		node:      opts.Node,
		placement: opts.Placement,

		timeoutGrace: cmp.Or(opts.TimeoutGrace, 5*time.Second),
		recordFor:    cmp.Or(opts.RecordFor, time.Minute),

		jobsOnSuccess: opts.JobsOnSuccess,
	}
	w.started = newBatcher(maxBatch, 1, w.flushStarted)
	w.definitions = newLoader("task", opts.Engine.TaskDefinitions)
	w.templates = newLoader("input of run", opts.Engine.TemplateDataForRuns)
	// Successes are routed to flushers by run: one run's tasks are never
	// recorded by two transactions at once, so flushers do not wait on each
	// other's run locks.
	w.succeeded = newShardedBatcher(maxBatch, successFlushers,
		func(a engine.Attempt) uint64 { return uint64(a.RunID) }, w.flushSucceeded)
	return w
}

func (w *TaskWorker) start() {
	w.definitions.batcher.start()
	w.templates.batcher.start()
	w.started.start()
	w.succeeded.start()
}

func (w *TaskWorker) stop() {
	w.succeeded.stop()
	w.started.stop()
	w.templates.batcher.stop()
	w.definitions.batcher.stop()
	for i := range w.conns {
		w.releaseFlushConn(i)
	}
}

// Timeout is River's deadline for a job: the task's own timeout, which the
// worker applies to the executor, plus a grace period for recording the
// outcome. River's rescuer also uses it: a job still running past it (its
// worker died) is handed to another worker.
func (w *TaskWorker) Timeout(job *river.Job[engine.TaskArgs]) time.Duration {
	return job.Args.Timeout() + w.timeoutGrace
}

// NextRetry schedules the retry after a transient failure: the time Work
// chose (the task's backoff, or a later retry-after hint from the error).
func (w *TaskWorker) NextRetry(job *river.Job[engine.TaskArgs]) time.Time {
	if at, ok := w.nextRetry.LoadAndDelete(job.ID); ok {
		return at.(time.Time)
	}
	return time.Now().Add(retryDelay(job.Args, job.Attempt, nil))
}

// maxRetryAfter caps how long a retry-after hint may delay a retry.
const maxRetryAfter = time.Hour

// retryDelay is the wait before retrying after failed attempt n: the task's
// backoff, or the error's retry-after hint when that is longer.
func retryDelay(args engine.TaskArgs, attempt int, err error) time.Duration {
	backoff, berr := engine.BackoffFrom(args.Backoff)
	if berr != nil {
		backoff = engine.DefaultBackoff()
	}
	delay := backoff.Next(attempt, nil)
	if hint := executor.RetryAfterOf(err); hint > delay {
		delay = min(hint, maxRetryAfter)
	}
	return delay
}

// Work implements river.Worker.
func (w *TaskWorker) Work(ctx context.Context, job *river.Job[engine.TaskArgs]) error {
	if !job.Args.Complete() {
		// The job carries only its task's id: read the task (with other
		// workers' tasks, in one query). The rest of the attempt, and
		// River's NextRetry after it, see the whole args.
		var def engine.TaskDefinition
		err := retryUnavailable(ctx, func(ctx context.Context) (err error) {
			def, err = w.definitions.load(ctx, job.Args.TaskID)
			return err
		})
		if errors.Is(err, engine.ErrNotFound) {
			// Its run was purged: there is nothing left to run or record.
			return river.JobCancel(err)
		}
		if err != nil {
			return err
		}
		if def.Finished {
			// Cancelled or skipped before it started, or finished by an
			// attempt whose job was delivered again after a crash.
			return nil
		}
		if def.Err != nil {
			// Stored options that cannot be read read the same way each time.
			// (The job's args carry no run id: the definition's ids do.)
			job.Args.RunID = def.Args.RunID
			return w.fail(ctx, job, engine.Attempt{TaskID: job.Args.TaskID, RunID: def.Args.RunID, Attempt: job.Attempt,
				Node: w.node, StartedAt: time.Now()}, executor.Permanent(def.Err))
		}
		job.Args = def.Args
	} else if job.Attempt > 1 {
		// A retry, or a job delivered again after a crash: its task may
		// have finished meanwhile (for instance its success was recorded but
		// the process died before River completed the job).
		var finished bool
		err := retryUnavailable(ctx, func(ctx context.Context) (err error) {
			finished, err = w.engine.TaskFinished(ctx, job.Args.TaskID)
			return err
		})
		if err != nil {
			return err
		}
		if finished {
			return nil
		}
	}
	args := job.Args
	if args.Resources != nil && w.placement != nil {
		// One in-memory check; tasks without resources skip it entirely.
		if !w.placement.TryReserve(*args.Resources) {
			return w.noRoom(ctx, job)
		}
		defer w.placement.Release(*args.Resources)
	}
	if len(args.Concurrency) > 0 {
		// Cluster-wide limits: one database round trip, only for tasks that
		// have them.
		release, stop := w.acquireConcurrency(ctx, job)
		if release == nil {
			return stop
		}
		defer release()
	}
	params, resolved, err := w.render(ctx, args)
	if err != nil {
		return w.fail(ctx, job, engine.Attempt{TaskID: args.TaskID, Attempt: job.Attempt, Node: w.node, StartedAt: time.Now()}, err)
	}
	guard, err := w.acquireBreaker(ctx, args, params)
	if err != nil {
		return err
	}
	if guard != nil && !guard.decision.Allowed {
		// The circuit is open: wait for it to half-open without failing
		// and without using an attempt.
		return river.JobSnooze(max(time.Until(guard.decision.RetryAt), 100*time.Millisecond))
	}

	start := time.Now()
	// Show the task as running only if it runs long enough for anyone to
	// see it; quick tasks go straight to their outcome, saving a write.
	markStarted := time.AfterFunc(startedMarkDelay, func() {
		w.started.add(engine.Started{TaskID: args.TaskID, Attempt: job.Attempt, StartedAt: start})
	})
	output, execErr := w.execute(ctx, job, params)
	markStarted.Stop()
	w.recordBreaker(ctx, guard, execErr)
	attempt := engine.Attempt{
		TaskID:         args.TaskID,
		RunID:          args.RunID,
		Attempt:        job.Attempt,
		ResolvedParams: resolved,
		StartedAt:      start,
		Duration:       time.Since(start),
		Node:           w.node,
	}

	if execErr == nil {
		attempt.Output = output
		// The outcome outlives the job's context: once the task has run,
		// losing its success would make it run again.
		recordCtx, cancel := w.recordContext(ctx)
		defer cancel()
		return w.succeeded.submit(recordCtx, attempt)
	}

	return w.fail(ctx, job, attempt, execErr)
}

// fail records a failed attempt and tells River what to do next: retry
// after the task's backoff (or the error's retry-after hint), or stop.
//
// The outcome is recorded even when the job's context is done: on a context
// that outlives it, retrying while the database is unreachable. An attempt
// cut short from outside (its task or run cancelled, the worker stopping) is
// recorded as interrupted; one that outlived the job's timeout is a failure
// like any other, so that River never finalizes a job whose outcome Baton
// did not record.
func (w *TaskWorker) fail(ctx context.Context, job *river.Job[engine.TaskArgs], attempt engine.Attempt, execErr error) error {
	args := job.Args
	recordCtx, cancel := w.recordContext(ctx)
	defer cancel()
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return w.interrupted(ctx, recordCtx, job, attempt, execErr)
	}
	if attempt.Duration == 0 {
		attempt.Duration = time.Since(attempt.StartedAt)
	}
	class := executor.ClassOf(execErr)
	attempt.Error = execErr.Error()
	attempt.ErrorClass = string(class)
	attempt.Final = class == executor.ClassPermanent || job.Attempt >= job.MaxAttempts
	if !attempt.Final {
		next := time.Now().Add(retryDelay(args, job.Attempt, execErr))
		attempt.NextRetryAt = &next
		w.nextRetry.Store(job.ID, next)
	}
	var recorded bool
	err := retryUnavailable(recordCtx, func(ctx context.Context) (err error) {
		recorded, err = w.engine.FailTask(ctx, attempt)
		return err
	})
	if err != nil {
		w.nextRetry.Delete(job.ID)
		return fmt.Errorf("record failure of task %d (%w): %w", args.TaskID, execErr, err)
	}
	if !recorded {
		// The task was cancelled or skipped meanwhile: nothing to retry.
		w.nextRetry.Delete(job.ID)
		return river.JobCancel(execErr)
	}
	w.logger.InfoContext(ctx, "task attempt failed",
		slog.Int64("run_id", args.RunID), slog.String("step", args.Step), slog.Int("attempt", job.Attempt),
		slog.String("error_class", string(class)), slog.Bool("final", attempt.Final), slog.String("error", attempt.Error))
	if attempt.Final {
		// The task is dead and recorded; stop River from retrying it.
		return river.JobCancel(execErr)
	}
	return execErr
}

// interrupted records an attempt cut short from outside and tells River why.
// A cancelled task or run: River finalizes the job as cancelled. A stopping
// worker: the error wraps context.Canceled, so River makes the job available
// again without using an attempt.
func (w *TaskWorker) interrupted(ctx, recordCtx context.Context, job *river.Job[engine.TaskArgs], attempt engine.Attempt, execErr error) error {
	reason := "worker stopping"
	if errors.Is(context.Cause(ctx), rivertype.ErrJobCancelledRemotely) {
		reason = "cancelled"
	}
	attempt.Duration = time.Since(attempt.StartedAt)
	err := retryUnavailable(recordCtx, func(ctx context.Context) error {
		return w.engine.RecordInterrupted(ctx, attempt, reason+": "+execErr.Error())
	})
	if err != nil {
		w.logger.WarnContext(recordCtx, "record interrupted attempt", slog.Int64("task_id", attempt.TaskID),
			slog.Int("attempt", attempt.Attempt), slog.String("error", err.Error()))
	}
	return fmt.Errorf("attempt %d of task %d interrupted (%s): %w: %w", job.Attempt, job.Args.TaskID, reason, ctx.Err(), execErr)
}

// recordContext returns the context an attempt's outcome is recorded with:
// it keeps ctx's values but not its cancellation or deadline, and ends after
// the worker's RecordFor.
func (w *TaskWorker) recordContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), w.recordFor)
}

// retryUnavailable calls fn until it succeeds, fails for a reason other than
// the database being unreachable, or ctx is done, waiting a little longer
// between each try (100 ms doubling to 2 s).
func retryUnavailable(ctx context.Context, fn func(ctx context.Context) error) error {
	wait := 100 * time.Millisecond
	for {
		err := fn(ctx)
		if err == nil || !engine.IsUnavailable(err) {
			return err
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-timer.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// breakerGuard is an attempt's circuit breaker and its decision.
type breakerGuard struct {
	key      string
	settings resilience.Settings
	decision resilience.Decision
}

// acquireBreaker asks the task type's circuit breaker, if it has one,
// whether the attempt may run.
func (w *TaskWorker) acquireBreaker(ctx context.Context, args engine.TaskArgs, params json.RawMessage) (*breakerGuard, error) {
	if args.CircuitBreaker == nil || w.breakers == nil {
		return nil, nil
	}
	settings, err := resilience.SettingsFrom(args.CircuitBreaker)
	if err != nil {
		return nil, fmt.Errorf("circuit breaker of %s: %w", args.TaskType, err)
	}
	key := args.TaskType
	if args.CircuitBreaker.PerHost {
		key = resilience.HostKey(args.TaskType, params)
	}
	decision, err := w.breakers.Acquire(ctx, key, settings)
	if err != nil {
		// The breaker is a guard, not a gate: when its state cannot be read,
		// let the attempt run rather than fail a task over it.
		w.logger.WarnContext(ctx, "circuit breaker unavailable; running unguarded", slog.String("breaker", key), slog.String("error", err.Error()))
		return nil, nil
	}
	return &breakerGuard{key: key, settings: settings, decision: decision}, nil
}

// recordBreaker reports an attempt's outcome to its breaker. Only transient
// errors count as failures: a permanent error (a 4xx, bad params) means the
// target answered.
func (w *TaskWorker) recordBreaker(ctx context.Context, guard *breakerGuard, execErr error) {
	if guard == nil || ctx.Err() != nil {
		// No breaker, or the worker is shutting down: an attempt cut short
		// says nothing about the target.
		return
	}
	success := execErr == nil || executor.ClassOf(execErr) == executor.ClassPermanent
	if err := w.breakers.Record(ctx, guard.key, guard.settings, guard.decision, success); err != nil {
		w.logger.WarnContext(ctx, "record circuit breaker outcome", slog.String("breaker", guard.key), slog.String("error", err.Error()))
	}
}

// render renders the task's params when they hold templates. It returns the
// params to execute with and the rendered params to record (nil when no
// rendering was needed).
func (w *TaskWorker) render(ctx context.Context, args engine.TaskArgs) (params, resolved json.RawMessage, err error) {
	if !engine.ParamsNeedRender(args.Params) {
		return args.Params, nil, nil
	}
	var data engine.TemplateData
	err = retryUnavailable(ctx, func(ctx context.Context) (err error) {
		data, err = w.templates.load(ctx, args.RunID)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	// Rendering counts against the task's timeout: a template cannot run
	// past it (rendering has its own, shorter, limits too).
	timeout := args.Timeout()
	renderCtx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("reached the task timeout of %s", timeout))
	defer cancel()
	rendered, err := engine.RenderParams(renderCtx, args.Params, data)
	if err != nil {
		// The same params and data render the same way: never retry.
		return nil, nil, executor.Permanent(fmt.Errorf("step %q: %w", args.Step, err))
	}
	return rendered, rendered, nil
}

// execute runs the task's executor under the task's timeout.
func (w *TaskWorker) execute(ctx context.Context, job *river.Job[engine.TaskArgs], params json.RawMessage) (json.RawMessage, error) {
	args := job.Args
	ex, err := w.executors.Get(args.Executor)
	if err != nil {
		return nil, executor.Permanent(err)
	}
	timeout := args.Timeout()
	execCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := ex.Execute(execCtx, executor.Request{
		RunID:              args.RunID,
		TaskID:             args.TaskID,
		Step:               args.Step,
		TaskType:           args.TaskType,
		Attempt:            job.Attempt,
		Params:             params,
		PermanentExitCodes: args.PermanentExitCodes,
	})
	if err != nil {
		if errors.Is(execCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			err = executor.Transient(fmt.Errorf("timed out after %s: %w", timeout, err))
		}
		return nil, err
	}
	return res.Output, nil
}

// flushStarted records a batch of attempt starts. It is a status hint, so a
// failure is logged, not retried.
func (w *TaskWorker) flushStarted(ctx context.Context, _ int, items []engine.Started) error {
	if err := w.engine.MarkStarted(ctx, items); err != nil {
		w.logger.WarnContext(ctx, "record task starts", slog.Int("tasks", len(items)), slog.String("error", err.Error()))
		return err
	}
	return nil
}

// flushSucceeded records a batch of successes in one transaction, retrying
// on a deadlock or serialization failure, and for up to RecordFor while the
// database is unreachable (re-recording is safe: tasks already recorded are
// left alone). River completes the jobs after the
// workers return; a job delivered again (its attempt > 1) first checks
// whether its task already finished (see Work), so a recorded success is
// never executed twice. See docs/adr/0004.
func (w *TaskWorker) flushSucceeded(ctx context.Context, flusher int, attempts []engine.Attempt) error {
	ctx, cancel := context.WithTimeout(ctx, w.recordFor)
	defer cancel()
	deadlocks := 0
	err := retryUnavailable(ctx, func(ctx context.Context) error {
		conn, err := w.flushConn(ctx, flusher)
		if err != nil {
			return err
		}
		for {
			err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				_, err := w.engine.SucceedTasksTx(ctx, tx, attempts, w.jobsOnSuccess)
				return err
			})
			if err == nil || !isRetryable(err) || deadlocks >= 2 {
				break
			}
			deadlocks++
		}
		if err != nil && conn.Conn().IsClosed() {
			// A broken connection: the next try takes a new one. Recording
			// again is safe: tasks already recorded are left alone.
			w.releaseFlushConn(flusher)
		}
		return err
	})
	if err != nil {
		w.logger.ErrorContext(ctx, "record task successes", slog.Int("tasks", len(attempts)), slog.String("error", err.Error()))
	}
	return err
}

// isRetryable reports whether a transaction failed on a deadlock or a
// serialization conflict and may simply be tried again.
func isRetryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}
