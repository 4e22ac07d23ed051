package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/baton-run/baton/internal/schedule"
)

// QueueSchedules is the River queue of the scheduler's tick, apart from
// tasks so that a busy default queue never delays a fire.
const QueueSchedules = "baton_schedules"

// ScheduleTickArgs are the arguments of the periodic job that starts the
// runs of due schedule fires, every second on every node, unique per second.
type ScheduleTickArgs struct{}

// Kind implements river.JobArgs.
func (ScheduleTickArgs) Kind() string { return "baton_schedule_tick" }

// scheduleTickInsertOpts: unique per second (many nodes schedule it, one
// runs it), one attempt (the next second retries anyway), high priority.
func scheduleTickInsertOpts() *river.InsertOpts {
	return &river.InsertOpts{Queue: QueueSchedules, Priority: 1, MaxAttempts: 1,
		UniqueOpts: river.UniqueOpts{ByPeriod: time.Second}}
}

// ScheduleTickWorker runs schedule.Service.Tick.
type ScheduleTickWorker struct {
	river.WorkerDefaults[ScheduleTickArgs]

	Schedules *schedule.Service
	Logger    *slog.Logger
}

// Timeout bounds one tick.
func (w *ScheduleTickWorker) Timeout(*river.Job[ScheduleTickArgs]) time.Duration {
	return 30 * time.Second
}

// Work implements river.Worker.
func (w *ScheduleTickWorker) Work(ctx context.Context, _ *river.Job[ScheduleTickArgs]) error {
	res, err := w.Schedules.Tick(ctx)
	if res.Started > 0 && w.Logger != nil {
		w.Logger.InfoContext(ctx, "schedule fires started", slog.Int("runs", res.Started), slog.Int("schedules", res.Schedules))
	}
	return err
}
