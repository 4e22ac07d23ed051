package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/baton-run/baton/internal/batch"
)

// BatchCheckArgs are the arguments of the periodic job that ends finished
// batches and applies their on_member_failure policy (batch.Service.Check).
type BatchCheckArgs struct{}

// Kind implements river.JobArgs.
func (BatchCheckArgs) Kind() string { return "baton_batch_check" }

// BatchCheckWorker runs batch.Service.Check.
type BatchCheckWorker struct {
	river.WorkerDefaults[BatchCheckArgs]

	Batches *batch.Service
	Logger  *slog.Logger
}

// Work implements river.Worker.
func (w *BatchCheckWorker) Work(ctx context.Context, _ *river.Job[BatchCheckArgs]) error {
	n, err := w.Batches.Check(ctx)
	if err == nil && n > 0 {
		w.Logger.InfoContext(ctx, "batches finished", slog.Int("count", n))
	}
	return err
}

// addBatchJobs registers the batch check, every second and unique per
// second across nodes.
func addBatchJobs(cfg *river.Config, workers *river.Workers, batches *batch.Service, logger *slog.Logger) {
	river.AddWorker(workers, &BatchCheckWorker{Batches: batches, Logger: logger})
	cfg.PeriodicJobs = append(cfg.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(time.Second),
		func() (river.JobArgs, *river.InsertOpts) {
			return BatchCheckArgs{}, &river.InsertOpts{Priority: 1, MaxAttempts: 1,
				UniqueOpts: river.UniqueOpts{ByPeriod: time.Second}}
		}, &river.PeriodicJobOpts{RunOnStart: true}))
}
