package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/baton-run/baton/internal/alert"
	"github.com/baton-run/baton/internal/batch"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/placement"
	"github.com/baton-run/baton/internal/resilience"
	"github.com/baton-run/baton/internal/rollup"
	"github.com/baton-run/baton/internal/schedule"
	"github.com/baton-run/baton/internal/search"
	"github.com/baton-run/baton/internal/trigger"
	"github.com/baton-run/baton/internal/webhook"
)

// ClientOptions configures the River client that runs Baton's jobs.
type ClientOptions struct {
	Engine    *engine.Engine
	Executors *executor.Registry
	// Breakers guards task types that have a circuit breaker (nil: none are guarded).
	Breakers *resilience.Breakers
	Logger   *slog.Logger
	// Workers is the number of tasks worked at once (default 100). Zero
	// with InsertOnly builds a client that only inserts.
	Workers int
	// ReservedShare is the share of Workers reserved for priority-1 tasks
	// (rounded down, leaving at least one general slot): 0 means
	// DefaultReservedShare, a negative value reserves nothing. See
	// QueueReserved.
	ReservedShare float64
	// InsertOnly builds a client that works nothing (for API-only processes).
	InsertOnly bool
	// FetchCooldown and FetchPollInterval tune River's fetch loop; they bound
	// the latency from a commit to its first task running (defaults 2 ms and
	// 50 ms: the insert notification normally wakes the fetcher first).
	FetchCooldown     time.Duration
	FetchPollInterval time.Duration
	// Retention is how long task_events partitions, finished runs (with
	// their tasks), dead letters and rollup rows are kept (default 90 days;
	// the CLI accepts 30 to 365 days). The hourly baton_retention job
	// enforces it.
	Retention time.Duration
	// DeadLetterRetention is how long dead-letter entries are kept
	// (default: Retention).
	DeadLetterRetention time.Duration
	// Node names this process in task events (default hostname:pid).
	Node string
	// Placement tracks this node's free resources: tasks that declare
	// resources start only when they fit, else are snoozed so that a node
	// with room takes them (nil: no check). Register the node with a
	// placement.Node so that workflows are checked against it.
	Placement *placement.Tracker
	// RescueAfter is how long a job may stay running before River's rescuer
	// hands it to another worker (its process presumably died); a task is
	// rescued only once its own timeout has passed too. Default 1 hour.
	RescueAfter time.Duration
	// TimeoutGrace and RecordFor tune the task worker (see TaskWorkerOptions).
	TimeoutGrace time.Duration
	RecordFor    time.Duration
	// ReconcileEvery is how often the reconciler looks for tasks whose River
	// job was finalized without their outcome being recorded, and
	// ReconcileGrace how long such a job must have been finalized (defaults
	// 30 s and 10 s; ReconcileEvery is at least 1 s).
	ReconcileEvery time.Duration
	ReconcileGrace time.Duration
	// Alerts evaluates alert rules every AlertEvery (default 2 s, at least
	// 1 s) and delivers alerts on the alerts queue; nil runs no alerting.
	Alerts     *alert.Service
	AlertEvery time.Duration
	// Schedules fires cron schedules: a tick every second, unique per
	// second across nodes, on its own queue; nil runs no scheduler.
	Schedules *schedule.Service
	// Triggers starts the runs of events stored by baton.emit_event, turns
	// run ends into run.* events every RunEndEvery (default 1 s) and
	// maintains the events partitions; nil runs none of it.
	Triggers    *trigger.Service
	RunEndEvery time.Duration
	// TaskJobRetention is how long River keeps the job row of a completed
	// task (kind baton_task). Zero, the default, deletes it in the
	// transaction that records the task's success: the outcome is in
	// run_tasks and task_events, and deleting the row costs River's table far
	// less than completing it and purging it later (ADR 0022). A positive
	// retention keeps completed task jobs that long (River UI shows them
	// meanwhile) before baton_task_job_purge, every 30 s, deletes them; it
	// also deletes any completed task job the success did not (a job
	// delivered again after its task finished). Other kinds keep River's own
	// retention (24 h for completed jobs).
	TaskJobRetention time.Duration
	// SLAEvery is how often the SLA check (escalation of runs projected to
	// miss their SLA, sla_violated events) runs (default 5 s, at least 1 s).
	SLAEvery time.Duration
	// Webhooks delivers outbound webhooks on their own queue (the
	// dispatcher that creates deliveries is webhook.Service.Run); nil
	// delivers none.
	Webhooks *webhook.Service
	// Batches ends finished batches and applies their on_member_failure
	// policy every second; nil runs no batch check.
	Batches *batch.Service
	// Search writes the full-text documents of started and finished runs
	// every second; nil indexes nothing.
	Search *search.Service
}

// DefaultTaskJobRetention is how long the River job of a completed task is
// kept by default: not at all (see ClientOptions.TaskJobRetention).
const DefaultTaskJobRetention time.Duration = 0

// taskJobPurgeEvery is how often completed task jobs past their retention
// are deleted.
const taskJobPurgeEvery = 30 * time.Second

// Client is a River client wired with Baton's workers and periodic jobs.
// Its Start and Stop also run the task worker's batchers.
type Client struct {
	*river.Client[pgx.Tx]
	pool       *pgxpool.Pool
	engine     *engine.Engine
	taskWorker *TaskWorker
	// promoter feeds reserved capacity (nil: none on this node).
	promoter *reservedPromoter
}

// Start starts the batchers, then the River client.
func (c *Client) Start(ctx context.Context) error {
	if c.taskWorker != nil {
		c.taskWorker.start()
	}
	if err := c.Client.Start(ctx); err != nil {
		return err
	}
	if c.promoter != nil {
		c.promoter.start()
	}
	return nil
}

// Stop stops the River client, letting running tasks finish, then flushes and
// stops the batchers.
func (c *Client) Stop(ctx context.Context) error {
	if c.promoter != nil {
		c.promoter.stop()
	}
	err := c.Client.Stop(ctx)
	if c.taskWorker != nil {
		c.taskWorker.stop()
	}
	return err
}

// StopAndCancel is Stop that cancels running tasks first.
func (c *Client) StopAndCancel(ctx context.Context) error {
	if c.promoter != nil {
		c.promoter.stop()
	}
	err := c.Client.StopAndCancel(ctx)
	if c.taskWorker != nil {
		c.taskWorker.stop()
	}
	return err
}

// NewClient returns a Client. Start it with Start and stop it with Stop.
func NewClient(pool *pgxpool.Pool, opts ClientOptions) (*Client, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg := &river.Config{
		Logger:               logger,
		FetchCooldown:        orDefault(opts.FetchCooldown, 2*time.Millisecond),
		FetchPollInterval:    orDefault(opts.FetchPollInterval, 50*time.Millisecond),
		RescueStuckJobsAfter: orDefault(opts.RescueAfter, time.Hour),
		// The default timeout of workers without their own (housekeeping
		// jobs); River requires it not to exceed RescueStuckJobsAfter.
		JobTimeout: min(orDefault(opts.RescueAfter, time.Hour), time.Minute),
	}
	var (
		taskWorker *TaskWorker
		promoter   *reservedPromoter
	)
	if opts.TaskJobRetention < 0 {
		return nil, fmt.Errorf("task job retention %s is negative", opts.TaskJobRetention)
	}
	jobsOnSuccess := engine.KeepJobs
	if opts.TaskJobRetention == 0 {
		jobsOnSuccess = engine.DeleteJobs
	}
	if !opts.InsertOnly {
		node := opts.Node
		if node == "" {
			host, _ := os.Hostname()
			node = fmt.Sprintf("%s:%d", host, os.Getpid())
		}
		taskWorker = NewTaskWorker(TaskWorkerOptions{
			Engine: opts.Engine, Executors: opts.Executors, Breakers: opts.Breakers, Logger: logger, Node: node,
			Placement:    opts.Placement,
			TimeoutGrace: opts.TimeoutGrace, RecordFor: opts.RecordFor,
			JobsOnSuccess: jobsOnSuccess,
		})
		workers := river.NewWorkers()
		river.AddWorker(workers, taskWorker)
		retention := orDefault(opts.Retention, rollup.DefaultRetention)
		// The partition and dead-letter jobs of earlier releases stay
		// registered for jobs already queued; baton_retention replaces them.
		river.AddWorker(workers, &PartitionMaintenanceWorker{
			Engine: opts.Engine, Logger: logger, DaysAhead: 7, Retention: retention,
		})
		river.AddWorker(workers, &DeadLetterPurgeWorker{
			Engine: opts.Engine, Logger: logger, Retention: orDefault(opts.DeadLetterRetention, retention),
		})
		rollups := rollup.New(pool)
		river.AddWorker(workers, &RollupWorker{Rollups: rollups, Logger: logger})
		river.AddWorker(workers, &RetentionWorker{Rollups: rollups, Logger: logger, Options: rollup.RetentionOptions{
			Retention: retention, DeadLetterRetention: orDefault(opts.DeadLetterRetention, retention), DaysAhead: 7,
		}})
		river.AddWorker(workers, &ReconcileWorker{
			Engine: opts.Engine, Logger: logger, Grace: orDefault(opts.ReconcileGrace, 10*time.Second),
		})
		reconcileEvery := max(orDefault(opts.ReconcileEvery, 30*time.Second), time.Second)
		river.AddWorker(workers, &TaskJobPurgeWorker{
			Engine: opts.Engine, Logger: logger, Retention: opts.TaskJobRetention,
		})
		if opts.Alerts != nil {
			river.AddWorker(workers, &AlertEvaluateWorker{Alerts: opts.Alerts, Logger: logger})
			river.AddWorker(workers, &AlertDeliveryWorker{Alerts: opts.Alerts})
		}
		if opts.Schedules != nil {
			river.AddWorker(workers, &ScheduleTickWorker{Schedules: opts.Schedules, Logger: logger})
		}
		maxWorkers := opts.Workers
		if maxWorkers == 0 {
			maxWorkers = 100
		}
		cfg.Workers = workers
		general, reserved := splitSlots(maxWorkers, opts.ReservedShare)
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: general}}
		if reserved > 0 {
			cfg.Queues[QueueReserved] = river.QueueConfig{MaxWorkers: reserved}
			promoter = &reservedPromoter{engine: opts.Engine, logger: logger, max: reserved}
		}
		cfg.PeriodicJobs = []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour), func() (river.JobArgs, *river.InsertOpts) {
				return RetentionArgs{}, nil
			}, &river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(time.Minute), func() (river.JobArgs, *river.InsertOpts) {
				return RollupArgs{}, nil
			}, &river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(taskJobPurgeEvery), func() (river.JobArgs, *river.InsertOpts) {
				// Unique per period: many nodes schedule it, one runs it.
				return TaskJobPurgeArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: taskJobPurgeEvery}}
			}, nil),
			river.NewPeriodicJob(river.PeriodicInterval(reconcileEvery), func() (river.JobArgs, *river.InsertOpts) {
				// Unique per period: many nodes schedule it, one runs it.
				return ReconcileArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: reconcileEvery}}
			}, &river.PeriodicJobOpts{RunOnStart: true}),
		}
		if opts.Alerts != nil {
			// Evaluation is unique per period (many nodes schedule it, one
			// runs it) and, like deliveries, on the alerts queue, so that
			// tasks do not hold it back.
			alertEvery := max(orDefault(opts.AlertEvery, 2*time.Second), time.Second)
			cfg.Queues[alert.QueueAlerts] = river.QueueConfig{MaxWorkers: 10}
			cfg.PeriodicJobs = append(cfg.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(alertEvery),
				func() (river.JobArgs, *river.InsertOpts) {
					return AlertEvaluateArgs{}, &river.InsertOpts{Queue: alert.QueueAlerts, Priority: 1, MaxAttempts: 1,
						UniqueOpts: river.UniqueOpts{ByPeriod: alertEvery}}
				}, &river.PeriodicJobOpts{RunOnStart: true}))
		}
		if opts.Schedules != nil {
			cfg.Queues[QueueSchedules] = river.QueueConfig{MaxWorkers: 1}
			cfg.PeriodicJobs = append(cfg.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(time.Second),
				func() (river.JobArgs, *river.InsertOpts) { return ScheduleTickArgs{}, scheduleTickInsertOpts() },
				&river.PeriodicJobOpts{RunOnStart: true}))
		}
		addSLAJobs(cfg, workers, opts.Engine, logger, opts.SLAEvery)
		if opts.Webhooks != nil {
			addWebhookJobs(cfg, workers, opts.Webhooks)
		}
		if opts.Batches != nil {
			addBatchJobs(cfg, workers, opts.Batches, logger)
		}
		if opts.Search != nil {
			addSearchJobs(cfg, workers, opts.Search, logger)
		}
		if opts.Triggers != nil {
			addTriggerJobs(cfg, workers, opts.Triggers, logger, retention, orDefault(opts.RunEndEvery, time.Second))
		}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("create river client: %w", err)
	}
	return &Client{Client: client, pool: pool, engine: opts.Engine, taskWorker: taskWorker, promoter: promoter}, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// PauseQueue pauses a queue on every node (River's queue pause) and records
// who did it; running tasks finish, no new task of the queue starts. Pausing
// the default queue pauses reserved capacity too.
func (c *Client) PauseQueue(ctx context.Context, name, actor string) error {
	return c.queueAction(ctx, name, actor, "queue_paused", c.Client.QueuePauseTx)
}

// ResumeQueue resumes a paused queue and records who did it.
func (c *Client) ResumeQueue(ctx context.Context, name, actor string) error {
	return c.queueAction(ctx, name, actor, "queue_resumed", c.Client.QueueResumeTx)
}

func (c *Client) queueAction(ctx context.Context, name, actor, kind string,
	action func(context.Context, pgx.Tx, string, *river.QueuePauseOpts) error,
) error {
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		if err := action(ctx, tx, name, nil); err != nil {
			if errors.Is(err, rivertype.ErrNotFound) {
				return fmt.Errorf("queue %q: %w", name, engine.ErrNotFound)
			}
			return fmt.Errorf("%s %q: %w", kind, name, err)
		}
		if name == river.QueueDefault {
			// Reserved capacity works jobs moved from the default queue: it
			// follows it. It may not exist (no node reserves capacity).
			if err := action(ctx, tx, QueueReserved, nil); err != nil && !errors.Is(err, rivertype.ErrNotFound) {
				return fmt.Errorf("%s %q: %w", kind, QueueReserved, err)
			}
		}
		return c.engine.RecordQueueActionTx(ctx, tx, kind, name, actor)
	})
	return err
}

// ListQueues lists the queues River knows (those worked recently).
func (c *Client) ListQueues(ctx context.Context) ([]engine.Queue, error) {
	res, err := c.Client.QueueList(ctx, river.NewQueueListParams().First(1000))
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	out := make([]engine.Queue, len(res.Queues))
	for i, q := range res.Queues {
		out[i] = engine.Queue{Name: q.Name, PausedAt: q.PausedAt, CreatedAt: q.CreatedAt, UpdatedAt: q.UpdatedAt}
	}
	return out, nil
}
