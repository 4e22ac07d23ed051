package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
)

// Snoozes of a task waiting for a concurrency slot: the first waits about
// concurrencySnoozeBase, each later one twice as long, up to
// concurrencySnoozeMax, with ±50 % jitter so that waiting tasks do not
// retry in lockstep.
const (
	concurrencySnoozeBase = 200 * time.Millisecond
	concurrencySnoozeMax  = 2 * time.Second
)

// acquireConcurrency takes the task's concurrency leases, rendering its
// templated keys first. When they are taken it returns the function that
// drops them; otherwise it returns nil and the error Work must return: a
// snooze (the task waits without using an attempt), or the recorded failure
// of a key that cannot be rendered.
func (w *TaskWorker) acquireConcurrency(ctx context.Context, job *river.Job[engine.TaskArgs]) (release func(), stop error) {
	args := job.Args
	var data engine.TemplateData
	for _, rule := range args.Concurrency {
		if !rule.Template {
			continue
		}
		err := retryUnavailable(ctx, func(ctx context.Context) (err error) {
			data, err = w.engine.TemplateDataFor(ctx, args.RunID)
			return err
		})
		if err != nil {
			return nil, err
		}
		break
	}
	keys, limits, err := engine.ConcurrencyKeys(ctx, args.Concurrency, data)
	if err != nil {
		// The same input renders the same key: never retry.
		err = executor.Permanent(fmt.Errorf("step %q: %w", args.Step, err))
		return nil, w.fail(ctx, job, engine.Attempt{TaskID: args.TaskID, Attempt: job.Attempt, Node: w.node, StartedAt: time.Now()}, err)
	}
	// The leases outlive the attempt's timeout and the recording of its
	// outcome; they are dropped as soon as the outcome is recorded, and
	// expire on their own if this process dies.
	ttl := args.Timeout() + w.timeoutGrace + w.recordFor
	var (
		acquired  bool
		blockedBy string
	)
	err = retryUnavailable(ctx, func(ctx context.Context) (err error) {
		acquired, blockedBy, err = w.engine.AcquireConcurrency(ctx, args.TaskID, w.node, keys, limits, ttl)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !acquired {
		w.logger.DebugContext(ctx, "task waits for a concurrency slot",
			slog.Int64("task_id", args.TaskID), slog.String("key", blockedBy))
		return nil, river.JobSnooze(concurrencySnooze(job.Metadata))
	}
	return func() { w.releaseConcurrency(ctx, args.TaskID) }, nil
}

// releaseConcurrency drops a task's leases, on a context that outlives the
// job's, retrying while the database is unreachable. A lease that cannot be
// dropped expires on its own.
func (w *TaskWorker) releaseConcurrency(ctx context.Context, taskID int64) {
	releaseCtx, cancel := w.recordContext(ctx)
	defer cancel()
	err := retryUnavailable(releaseCtx, func(ctx context.Context) error {
		return w.engine.ReleaseConcurrency(ctx, taskID)
	})
	if err != nil {
		w.logger.WarnContext(ctx, "release concurrency leases", slog.Int64("task_id", taskID), slog.String("error", err.Error()))
	}
}

// concurrencySnooze is how long a task refused a concurrency slot waits,
// from River's snooze counter in the job's metadata.
func concurrencySnooze(metadata []byte) time.Duration {
	var meta struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(metadata, &meta)
	wait := concurrencySnoozeBase << min(max(meta.Snoozes, 0), 4)
	wait = min(wait, concurrencySnoozeMax)
	return wait/2 + rand.N(wait)
}
