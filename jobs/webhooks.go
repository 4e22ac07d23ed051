package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/baton-run/baton/internal/webhook"
)

// WebhookDeliveryWorker makes one attempt of an outbound webhook delivery
// (webhook.Service.Deliver). Failures are retried with exponential backoff
// (NextRetry) up to the job's MaxAttempts (the service's, 3 by default);
// permanent ones (a refused private address, a disabled subscription)
// cancel the job.
type WebhookDeliveryWorker struct {
	river.WorkerDefaults[webhook.DeliveryArgs]

	Webhooks *webhook.Service
}

// Timeout bounds one attempt (the send has its own, shorter timeout).
func (w *WebhookDeliveryWorker) Timeout(*river.Job[webhook.DeliveryArgs]) time.Duration {
	return time.Minute
}

// NextRetry waits the service's RetryDelay (1 s, 2 s, 4 s ... by default).
func (w *WebhookDeliveryWorker) NextRetry(job *river.Job[webhook.DeliveryArgs]) time.Time {
	return time.Now().Add(w.Webhooks.RetryDelay(job.Attempt))
}

// Work implements river.Worker.
func (w *WebhookDeliveryWorker) Work(ctx context.Context, job *river.Job[webhook.DeliveryArgs]) error {
	err := w.Webhooks.Deliver(ctx, job.Args.DeliveryID, job.Attempt, job.MaxAttempts)
	if err != nil && webhook.IsPermanent(err) {
		return river.JobCancel(err)
	}
	return err
}

// addWebhookJobs registers the delivery worker and its queue.
func addWebhookJobs(cfg *river.Config, workers *river.Workers, webhooks *webhook.Service) {
	river.AddWorker(workers, &WebhookDeliveryWorker{Webhooks: webhooks})
	cfg.Queues[webhook.QueueWebhooks] = river.QueueConfig{MaxWorkers: 20}
}
