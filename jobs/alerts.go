package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/baton-run/baton/internal/alert"
)

// AlertEvaluateArgs are the arguments of the periodic job that evaluates
// the alert rules (alert.Service.Evaluate).
type AlertEvaluateArgs struct{}

// Kind implements river.JobArgs.
func (AlertEvaluateArgs) Kind() string { return "baton_alert_evaluate" }

// AlertEvaluateWorker runs alert.Service.Evaluate, inserting delivery jobs
// with the River client that works it.
type AlertEvaluateWorker struct {
	river.WorkerDefaults[AlertEvaluateArgs]

	Alerts *alert.Service
	Logger *slog.Logger
}

// Timeout bounds one evaluation.
func (w *AlertEvaluateWorker) Timeout(*river.Job[AlertEvaluateArgs]) time.Duration {
	return 30 * time.Second
}

// Work implements river.Worker.
func (w *AlertEvaluateWorker) Work(ctx context.Context, _ *river.Job[AlertEvaluateArgs]) error {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return err
	}
	res, err := w.Alerts.Evaluate(ctx, client)
	if err != nil {
		return err
	}
	if (res.Fired > 0 || res.Resolved > 0) && w.Logger != nil {
		w.Logger.InfoContext(ctx, "alerts evaluated", slog.Int("events", res.Events), slog.Int("fired", res.Fired),
			slog.Int("resolved", res.Resolved), slog.Int("deliveries", res.Deliveries), slog.Int("silenced", res.Silenced))
	}
	return nil
}

// AlertDeliveryWorker sends an alert change to a channel
// (alert.Service.Deliver). Failures are retried with backoff (NextRetry)
// up to the job's MaxAttempts; permanent ones (4xx, a refused private
// address) cancel the job.
type AlertDeliveryWorker struct {
	river.WorkerDefaults[alert.DeliveryArgs]

	Alerts *alert.Service
}

// Timeout bounds one attempt (the send has its own, shorter timeout).
func (w *AlertDeliveryWorker) Timeout(*river.Job[alert.DeliveryArgs]) time.Duration {
	return time.Minute
}

// NextRetry backs off 1 s, 2 s, 4 s … up to 5 minutes between attempts:
// alerts are urgent, River's default (attempt⁴ seconds) waits too long.
func (w *AlertDeliveryWorker) NextRetry(job *river.Job[alert.DeliveryArgs]) time.Time {
	return time.Now().Add(alert.RetryDelay(job.Attempt))
}

// Work implements river.Worker.
func (w *AlertDeliveryWorker) Work(ctx context.Context, job *river.Job[alert.DeliveryArgs]) error {
	err := w.Alerts.Deliver(ctx, job.Args, job.Attempt)
	if err != nil && alert.IsPermanent(err) {
		return river.JobCancel(err)
	}
	return err
}
