// Package rollup keeps the task-event rollups and enforces retention: it is
// the typed front of baton.rollup_task_events, baton.purge_finished_runs,
// baton.purge_rollups and baton.maintain_event_partitions (ADR 0009). The
// periodic River jobs in package jobs call it.
package rollup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// Retention bounds, in days, of --retention.
const (
	MinRetentionDays     = 30
	MaxRetentionDays     = 365
	DefaultRetentionDays = 90
)

// Day is 24 hours, the unit of the retention setting.
const Day = 24 * time.Hour

// DefaultRetention is the retention when none is configured.
const DefaultRetention = DefaultRetentionDays * Day

// ErrRetentionRange is returned by ValidateRetentionDays for a value outside
// MinRetentionDays..MaxRetentionDays.
var ErrRetentionRange = errors.New("retention: must be between 30 and 365 days")

// ValidateRetentionDays checks a retention given in days and returns it as a
// duration.
func ValidateRetentionDays(days int) (time.Duration, error) {
	if days < MinRetentionDays || days > MaxRetentionDays {
		return 0, fmt.Errorf("%w, got %d", ErrRetentionRange, days)
	}
	return time.Duration(days) * Day, nil
}

// Service runs the rollup and retention functions on a pool.
type Service struct {
	pool    *pgxpool.Pool
	queries *dbsqlc.Queries
}

// New returns a Service on pool.
func New(pool *pgxpool.Pool) *Service {
	return &Service{pool: pool, queries: dbsqlc.New()}
}

// DefaultBatch is how many events one call of Roll adds at most.
const DefaultBatch = 100_000

// maxBatchesPerRun bounds the catch-up loop of Roll and of retention.
const maxBatchesPerRun = 50

// Roll adds the events past the high-water mark to the rollups, batch events
// per transaction (DefaultBatch when 0), until it has caught up or done
// maxBatchesPerRun batches, and returns how many it added. Events committed
// by transactions still open are left for a later call (ADR 0009).
func (s *Service) Roll(ctx context.Context, batch int) (int64, error) {
	if batch <= 0 {
		batch = DefaultBatch
	}
	var total int64
	for range maxBatchesPerRun {
		n, err := s.queries.RollupTaskEvents(ctx, s.pool, int32(min(batch, 1_000_000)))
		if err != nil {
			return total, fmt.Errorf("roll up task events: %w", err)
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
	}
	return total, nil
}

// State is where the rollup stands.
type State struct {
	// HighWaterMark: every event with a smaller or equal id is rolled up.
	HighWaterMark int64
	// Settled: every event with a smaller or equal id is committed (or never will be).
	Settled int64
	// RolledAt is when the rollup last ran (nil: never).
	RolledAt *time.Time
	// EventsTotal is how many events were rolled up since the beginning.
	EventsTotal int64
}

// State returns the rollup's high-water mark and last run.
func (s *Service) State(ctx context.Context) (State, error) {
	row, err := s.queries.RollupStateGet(ctx, s.pool)
	if err != nil {
		return State{}, fmt.Errorf("read rollup state: %w", err)
	}
	return State{HighWaterMark: row.Hwm, Settled: row.Settled, RolledAt: row.RolledAt, EventsTotal: row.EventsTotal}, nil
}

// RetentionResult counts what EnforceRetention removed.
type RetentionResult struct {
	Partitions  int // task_events and node_metrics partitions (or chunks) created or dropped
	Runs        int // finished runs deleted, with their tasks and dead letters
	RollupRows  int // rollup rows deleted
	DeadLetters int // dead letters of runs still kept, purged by age
	// WebhookDeliveries are finished outbound webhook deliveries (with
	// their attempts) purged by age.
	WebhookDeliveries int
}

// RetentionOptions configures EnforceRetention.
type RetentionOptions struct {
	// Retention is how long events, finished runs, dead letters and rollups
	// are kept. Callers validate it (ValidateRetentionDays); the SQL
	// functions refuse anything under an hour.
	Retention time.Duration
	// DaysAhead is how many daily event partitions are created ahead (default 7).
	DaysAhead int
	// DeadLetterRetention is how long dead letters are kept (default: Retention).
	DeadLetterRetention time.Duration
	// RunBatch is how many runs one statement deletes (default 1000).
	RunBatch int
}

// EnforceRetention creates the coming task_events partitions and drops
// those past retention, deletes finished runs past retention in batches
// (their tasks and dead letters go with them), then old rollup rows, dead
// letters and finished webhook deliveries.
func (s *Service) EnforceRetention(ctx context.Context, opts RetentionOptions) (RetentionResult, error) {
	var res RetentionResult
	if opts.DaysAhead == 0 {
		opts.DaysAhead = 7
	}
	if opts.RunBatch <= 0 {
		opts.RunBatch = 1000
	}
	retention := pgtype.Interval{Microseconds: opts.Retention.Microseconds(), Valid: true}
	changed, err := s.queries.TaskEventMaintainPartitions(ctx, s.pool, &dbsqlc.TaskEventMaintainPartitionsParams{
		DaysAhead: int32(opts.DaysAhead), Retention: retention,
	})
	if err != nil {
		return res, fmt.Errorf("maintain event partitions: %w", err)
	}
	res.Partitions = int(changed)
	changed, err = s.queries.NodeMetricsMaintainPartitions(ctx, s.pool, &dbsqlc.NodeMetricsMaintainPartitionsParams{
		DaysAhead: int32(opts.DaysAhead), Retention: retention,
	})
	if err != nil {
		return res, fmt.Errorf("maintain node_metrics partitions: %w", err)
	}
	res.Partitions += int(changed)
	for range maxBatchesPerRun {
		n, err := s.queries.RunPurgeFinished(ctx, s.pool, &dbsqlc.RunPurgeFinishedParams{Retention: retention, Batch: int32(opts.RunBatch)})
		if err != nil {
			return res, fmt.Errorf("purge finished runs: %w", err)
		}
		res.Runs += int(n)
		if int(n) < opts.RunBatch {
			break
		}
	}
	const rollupBatch = 10_000
	for range maxBatchesPerRun {
		n, err := s.queries.RollupPurge(ctx, s.pool, &dbsqlc.RollupPurgeParams{Retention: retention, Batch: rollupBatch})
		if err != nil {
			return res, fmt.Errorf("purge rollups: %w", err)
		}
		res.RollupRows += int(n)
		if n < rollupBatch {
			break
		}
	}
	dlRetention := retention
	if opts.DeadLetterRetention > 0 {
		dlRetention = pgtype.Interval{Microseconds: opts.DeadLetterRetention.Microseconds(), Valid: true}
	}
	n, err := s.queries.DeadLetterPurge(ctx, s.pool, dlRetention)
	if err != nil {
		return res, fmt.Errorf("purge dead letters: %w", err)
	}
	res.DeadLetters = int(n)
	const deliveryBatch = 10_000
	for range maxBatchesPerRun {
		n, err := s.queries.WebhookDeliveryPurge(ctx, s.pool, &dbsqlc.WebhookDeliveryPurgeParams{Retention: retention, Batch: deliveryBatch})
		if err != nil {
			return res, fmt.Errorf("purge webhook deliveries: %w", err)
		}
		res.WebhookDeliveries += int(n)
		if n < deliveryBatch {
			break
		}
	}
	return res, nil
}
