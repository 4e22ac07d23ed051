package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/baton-run/baton/internal/rollup"
)

// RollupArgs are the arguments of the periodic job that adds new task events
// to the rollups (every minute, unique per minute: many nodes schedule it,
// one runs it).
type RollupArgs struct{}

// Kind implements river.JobArgs.
func (RollupArgs) Kind() string { return "baton_rollup" }

// InsertOpts makes the job unique per minute.
func (RollupArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Minute}}
}

// RollupWorker runs rollup.Service.Roll.
type RollupWorker struct {
	river.WorkerDefaults[RollupArgs]

	Rollups *rollup.Service
	Logger  *slog.Logger
}

// Work implements river.Worker.
func (w *RollupWorker) Work(ctx context.Context, _ *river.Job[RollupArgs]) error {
	n, err := w.Rollups.Roll(ctx, 0)
	if err != nil {
		return err
	}
	if n > 0 && w.Logger != nil {
		w.Logger.DebugContext(ctx, "task events rolled up", slog.Int64("events", n))
	}
	return nil
}

// RetentionArgs are the arguments of the hourly job that enforces retention:
// it keeps task_events partitions ahead, drops those past retention, and
// deletes finished runs (with their tasks and dead letters), rollup rows and
// dead letters past retention.
type RetentionArgs struct{}

// Kind implements river.JobArgs.
func (RetentionArgs) Kind() string { return "baton_retention" }

// InsertOpts makes the job unique per hour.
func (RetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Hour}}
}

// RetentionWorker runs rollup.Service.EnforceRetention.
type RetentionWorker struct {
	river.WorkerDefaults[RetentionArgs]

	Rollups *rollup.Service
	Logger  *slog.Logger
	Options rollup.RetentionOptions
}

// Work implements river.Worker.
func (w *RetentionWorker) Work(ctx context.Context, _ *river.Job[RetentionArgs]) error {
	res, err := w.Rollups.EnforceRetention(ctx, w.Options)
	if err != nil {
		return err
	}
	if w.Logger != nil && (res.Partitions > 0 || res.Runs > 0 || res.RollupRows > 0 || res.DeadLetters > 0 || res.WebhookDeliveries > 0) {
		w.Logger.InfoContext(ctx, "retention enforced", slog.Int("partitions", res.Partitions), slog.Int("runs", res.Runs),
			slog.Int("rollup_rows", res.RollupRows), slog.Int("dead_letters", res.DeadLetters),
			slog.Int("webhook_deliveries", res.WebhookDeliveries),
			slog.Duration("retention", w.Options.Retention))
	}
	return nil
}
