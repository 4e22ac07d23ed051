package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/baton-run/baton/internal/engine"
)

// PartitionMaintenanceArgs are the arguments of the periodic job that keeps
// task_events partitions ahead of time and drops those past retention.
type PartitionMaintenanceArgs struct{}

// Kind implements river.JobArgs.
func (PartitionMaintenanceArgs) Kind() string { return "baton_partition_maintenance" }

// InsertOpts makes the job unique per hour so that many nodes schedule it once.
func (PartitionMaintenanceArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Hour}}
}

// PartitionMaintenanceWorker runs engine.MaintainEventPartitions.
type PartitionMaintenanceWorker struct {
	river.WorkerDefaults[PartitionMaintenanceArgs]

	Engine    *engine.Engine
	Logger    *slog.Logger
	DaysAhead int
	Retention time.Duration
}

// Work implements river.Worker.
func (w *PartitionMaintenanceWorker) Work(ctx context.Context, _ *river.Job[PartitionMaintenanceArgs]) error {
	changed, err := w.Engine.MaintainEventPartitions(ctx, w.DaysAhead, w.Retention)
	if err != nil {
		return err
	}
	if changed > 0 && w.Logger != nil {
		w.Logger.InfoContext(ctx, "task_events partitions maintained", slog.Int("changed", changed))
	}
	return nil
}

// DeadLetterPurgeArgs are the arguments of the periodic job that removes
// dead-letter entries older than the retention.
type DeadLetterPurgeArgs struct{}

// Kind implements river.JobArgs.
func (DeadLetterPurgeArgs) Kind() string { return "baton_dead_letter_purge" }

// InsertOpts makes the job unique per hour so that many nodes schedule it once.
func (DeadLetterPurgeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Hour}}
}

// DeadLetterPurgeWorker runs engine.PurgeDeadLetters.
type DeadLetterPurgeWorker struct {
	river.WorkerDefaults[DeadLetterPurgeArgs]

	Engine    *engine.Engine
	Logger    *slog.Logger
	Retention time.Duration
}

// Work implements river.Worker.
func (w *DeadLetterPurgeWorker) Work(ctx context.Context, _ *river.Job[DeadLetterPurgeArgs]) error {
	n, err := w.Engine.PurgeDeadLetters(ctx, w.Retention)
	if err != nil {
		return err
	}
	if n > 0 && w.Logger != nil {
		w.Logger.InfoContext(ctx, "dead letters purged", slog.Int("purged", n), slog.Duration("retention", w.Retention))
	}
	return nil
}

// ReconcileArgs are the arguments of the periodic job that repairs tasks
// whose River job was finalized without their outcome being recorded (see
// engine.ReconcileTasks).
type ReconcileArgs struct{}

// Kind implements river.JobArgs.
func (ReconcileArgs) Kind() string { return "baton_reconcile" }

// ReconcileWorker runs engine.ReconcileTasks.
type ReconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]

	Engine *engine.Engine
	Logger *slog.Logger
	// Grace is how long a job must have been finalized before its
	// unfinished task is repaired.
	Grace time.Duration
}

// reconcileBatch bounds how many tasks one reconcile job repairs.
const reconcileBatch = 1000

// Work implements river.Worker.
func (w *ReconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	n, err := w.Engine.ReconcileTasks(ctx, w.Grace, reconcileBatch)
	if err != nil {
		return err
	}
	if n > 0 && w.Logger != nil {
		w.Logger.WarnContext(ctx, "reconciled tasks whose outcome was never recorded", slog.Int("repaired", n))
	}
	return nil
}

// TaskJobPurgeArgs are the arguments of the periodic job that deletes the
// River jobs of tasks completed longer ago than the task job retention.
type TaskJobPurgeArgs struct{}

// Kind implements river.JobArgs.
func (TaskJobPurgeArgs) Kind() string { return "baton_task_job_purge" }

// TaskJobPurgeWorker runs engine.PurgeTaskJobs in batches until no more
// jobs are due.
type TaskJobPurgeWorker struct {
	river.WorkerDefaults[TaskJobPurgeArgs]

	Engine    *engine.Engine
	Logger    *slog.Logger
	Retention time.Duration
}

// taskJobPurgeBatch is how many job rows one purge statement deletes.
const taskJobPurgeBatch = 10000

// Work implements river.Worker.
func (w *TaskJobPurgeWorker) Work(ctx context.Context, _ *river.Job[TaskJobPurgeArgs]) error {
	total := 0
	for {
		n, err := w.Engine.PurgeTaskJobs(ctx, w.Retention, taskJobPurgeBatch)
		if err != nil {
			return err
		}
		total += n
		if n < taskJobPurgeBatch {
			break
		}
	}
	if total > 0 && w.Logger != nil {
		w.Logger.DebugContext(ctx, "completed task jobs purged", slog.Int("jobs", total))
	}
	return nil
}
