package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/baton-run/baton/internal/engine"
)

// QueueSLA is the queue of the SLA check: its own, so that a queue full of
// tasks cannot hold back the job that escalates them.
const QueueSLA = "baton_sla"

// defaultSLAEvery is how often the SLA check runs by default.
const defaultSLAEvery = 5 * time.Second

// SLACheckArgs are the arguments of the periodic SLA check.
type SLACheckArgs struct{}

// Kind implements river.JobArgs.
func (SLACheckArgs) Kind() string { return "baton_sla_check" }

// slaCheckInsertOpts makes the check unique per period (many nodes schedule
// it, one runs it), on its own queue, at the highest priority, not retried
// (the next period's check does the work again).
func slaCheckInsertOpts(every time.Duration) *river.InsertOpts {
	return &river.InsertOpts{Queue: QueueSLA, Priority: 1, MaxAttempts: 1,
		UniqueOpts: river.UniqueOpts{ByPeriod: every}}
}

// SLACheckWorker runs engine.CheckSLAs.
type SLACheckWorker struct {
	river.WorkerDefaults[SLACheckArgs]

	Engine *engine.Engine
	Logger *slog.Logger
}

// Timeout bounds one check.
func (w *SLACheckWorker) Timeout(*river.Job[SLACheckArgs]) time.Duration { return 30 * time.Second }

// Work implements river.Worker.
func (w *SLACheckWorker) Work(ctx context.Context, _ *river.Job[SLACheckArgs]) error {
	res, err := w.Engine.CheckSLAs(ctx, 0, 0)
	if err != nil {
		return err
	}
	if (res.AtRisk > 0 || res.Violated > 0) && w.Logger != nil {
		w.Logger.InfoContext(ctx, "SLA check", slog.Int("at_risk", res.AtRisk), slog.Int("violated", res.Violated),
			slog.Int("settled", res.Settled))
	}
	return nil
}

// addSLAJobs registers the SLA check, every `every` (at least 1 s).
func addSLAJobs(cfg *river.Config, workers *river.Workers, eng *engine.Engine, logger *slog.Logger, every time.Duration) {
	every = max(orDefault(every, defaultSLAEvery), time.Second)
	river.AddWorker(workers, &SLACheckWorker{Engine: eng, Logger: logger})
	cfg.Queues[QueueSLA] = river.QueueConfig{MaxWorkers: 1}
	cfg.PeriodicJobs = append(cfg.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) { return SLACheckArgs{}, slaCheckInsertOpts(every) },
		&river.PeriodicJobOpts{RunOnStart: true}))
}
