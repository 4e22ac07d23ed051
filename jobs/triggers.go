package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/baton-run/baton/internal/trigger"
)

// TriggerEventArgs are the arguments of the job baton.emit_event inserts
// with an event that matches a trigger: the event's id and time.
type TriggerEventArgs struct {
	EventID   int64     `json:"event_id"`
	EventTime time.Time `json:"event_time"`
}

// Kind implements river.JobArgs.
func (TriggerEventArgs) Kind() string { return "baton_trigger_event" }

// TriggerEventWorker starts the runs of an event stored by
// baton.emit_event (trigger.Service.FireStored; idempotent per event and
// trigger).
type TriggerEventWorker struct {
	river.WorkerDefaults[TriggerEventArgs]

	Triggers *trigger.Service
}

// Work implements river.Worker.
func (w *TriggerEventWorker) Work(ctx context.Context, job *river.Job[TriggerEventArgs]) error {
	_, err := w.Triggers.FireStored(ctx, job.Args.EventID, job.Args.EventTime)
	return err
}

// RunEndEventsArgs are the arguments of the periodic job that turns run
// ends into run.* events (trigger.Service.EmitRunEnds).
type RunEndEventsArgs struct{}

// Kind implements river.JobArgs.
func (RunEndEventsArgs) Kind() string { return "baton_run_end_events" }

// RunEndEventsWorker runs trigger.Service.EmitRunEnds.
type RunEndEventsWorker struct {
	river.WorkerDefaults[RunEndEventsArgs]

	Triggers *trigger.Service
	Logger   *slog.Logger
}

// Work implements river.Worker.
func (w *RunEndEventsWorker) Work(ctx context.Context, _ *river.Job[RunEndEventsArgs]) error {
	n, err := w.Triggers.EmitRunEnds(ctx)
	if err == nil && n > 0 && w.Logger != nil {
		w.Logger.DebugContext(ctx, "run-end events stored", slog.Int("events", n))
	}
	return err
}

// EventPartitionsArgs are the arguments of the hourly job that maintains
// the partitions of baton.events.
type EventPartitionsArgs struct{}

// Kind implements river.JobArgs.
func (EventPartitionsArgs) Kind() string { return "baton_event_partitions" }

// EventPartitionsWorker runs trigger.Service.MaintainPartitions.
type EventPartitionsWorker struct {
	river.WorkerDefaults[EventPartitionsArgs]

	Triggers  *trigger.Service
	Retention time.Duration
}

// Work implements river.Worker.
func (w *EventPartitionsWorker) Work(ctx context.Context, _ *river.Job[EventPartitionsArgs]) error {
	_, err := w.Triggers.MaintainPartitions(ctx, 7, w.Retention)
	return err
}

// addTriggerJobs registers the trigger workers and periodic jobs on cfg.
// The run-end feed runs every runEndEvery (at least 1 s), unique per
// period so that one node runs it.
func addTriggerJobs(cfg *river.Config, workers *river.Workers, t *trigger.Service, logger *slog.Logger,
	retention, runEndEvery time.Duration,
) {
	river.AddWorker(workers, &TriggerEventWorker{Triggers: t})
	river.AddWorker(workers, &RunEndEventsWorker{Triggers: t, Logger: logger})
	river.AddWorker(workers, &EventPartitionsWorker{Triggers: t, Retention: retention})
	every := max(runEndEvery, time.Second)
	cfg.PeriodicJobs = append(cfg.PeriodicJobs,
		river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
			return RunEndEventsArgs{}, &river.InsertOpts{Priority: 1, MaxAttempts: 3,
				UniqueOpts: river.UniqueOpts{ByPeriod: every}}
		}, &river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(time.Hour), func() (river.JobArgs, *river.InsertOpts) {
			return EventPartitionsArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Hour}}
		}, &river.PeriodicJobOpts{RunOnStart: true}),
	)
}
