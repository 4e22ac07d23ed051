// Package resilience holds Baton's circuit breakers: one per key (a task
// type name, or "type:host" for per-host breakers), with their state in
// PostgreSQL so that every worker node shares it. The state machine runs in
// the database (functions baton.breaker_* in db/migrations), one statement
// per decision, race-free across nodes; this package is its typed front.
//
// A closed breaker lets attempts run and keeps the outcomes of the last
// Window of them. When the window is full and more than FailureRate of it
// failed, the breaker opens: attempts are refused for Cooldown. Then it is
// half-open: exactly one attempt across the cluster, the probe, is let
// through. The probe's success closes the breaker (with an empty window);
// its failure opens it for another Cooldown. A probe whose worker never
// reports is replaced after its lease. Operators can force a breaker open
// (it stays open until forced closed) or closed.
package resilience

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/baton-run/baton/internal/dbsqlc"
	"github.com/baton-run/baton/internal/engine"
)

// ErrNotFound is returned when a breaker does not exist. It is
// engine.ErrNotFound, so callers that map engine errors (the API answers
// 404) need nothing more.
var ErrNotFound = engine.ErrNotFound

// Breaker states, the values of Breaker.State.
const (
	StateClosed   = "closed"
	StateOpen     = "open"
	StateHalfOpen = "half_open"
)

// Options configures Breakers.
type Options struct {
	// Logger receives breaker transitions. Defaults to a discarding logger.
	Logger *slog.Logger

	// Now returns the current time. Nil uses the database's clock, which
	// every node shares; tests set it to move time without sleeping.
	Now func() time.Time

	// ProbeLease is how long a half-open breaker waits for its probe's
	// outcome before it lets another probe through (the probe's worker may
	// have died). Zero means max(cooldown, 1 minute).
	ProbeLease time.Duration
}

// Breakers gives access to every circuit breaker. It is safe for concurrent
// use; several Breakers (on several nodes) on one database share the
// breakers.
type Breakers struct {
	pool    *pgxpool.Pool
	queries *dbsqlc.Queries
	opts    Options
}

// NewBreakers returns Breakers on pool.
func NewBreakers(pool *pgxpool.Pool, opts Options) *Breakers {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Breakers{pool: pool, queries: dbsqlc.New(), opts: opts}
}

// Decision is Acquire's answer for one attempt.
type Decision struct {
	// Allowed tells whether the attempt may run. Only allowed attempts are
	// recorded.
	Allowed bool

	// Probe is true when the attempt is the half-open breaker's one probe:
	// its outcome closes or reopens the breaker.
	Probe bool

	// RetryAt is when a refused attempt should ask again: when the breaker
	// half-opens, soon while another node's probe is in flight, or after a
	// cooldown while the breaker is forced open. Zero when allowed.
	RetryAt time.Time

	// probeID identifies the probe to Record.
	probeID int64
}

// Breaker is the state of one circuit breaker.
type Breaker struct {
	// Key identifies the breaker: a task type name, or "type:host".
	Key string
	// State is StateClosed, StateOpen or StateHalfOpen.
	State string
	// ErrorRate is Failures / Outcomes (0 without outcomes).
	ErrorRate float64
	// Outcomes is how many attempt outcomes the window holds (at most
	// Window), Failures how many of them failed.
	Outcomes, Failures int
	// Window, FailureRate and Cooldown are the settings last used.
	Window      int
	FailureRate float64
	Cooldown    time.Duration
	// OpenedAt is when the breaker opened; nil while closed.
	OpenedAt *time.Time
	// HalfOpenAt is when an open breaker will let a probe through, or when
	// a half-open one did; nil while closed or forced open.
	HalfOpenAt *time.Time
	// ProbeExpiresAt is when the lease of a half-open breaker's probe ends;
	// nil otherwise.
	ProbeExpiresAt *time.Time
	// UpdatedAt is when the breaker last changed.
	UpdatedAt time.Time
	// Forced is true while an operator holds the breaker open.
	Forced bool
}

// Acquire decides whether an attempt guarded by breaker key may run now,
// creating the breaker (closed) on its first use. On a closed breaker it is
// one primary-key read. Zero fields of s take the defaults.
func (b *Breakers) Acquire(ctx context.Context, key string, s Settings) (Decision, error) {
	s, err := s.resolve(key)
	if err != nil {
		return Decision{}, err
	}
	row, err := b.queries.CircuitBreakerAcquire(ctx, b.pool, &dbsqlc.CircuitBreakerAcquireParams{
		Key:          key,
		FailureRate:  s.FailureRate,
		WindowSize:   int32(s.Window),
		CooldownMs:   s.Cooldown.Milliseconds(),
		ProbeLeaseMs: b.probeLease(s).Milliseconds(),
		Now:          b.now(),
	})
	if err != nil {
		return Decision{}, fmt.Errorf("acquire circuit breaker %q: %w", key, err)
	}
	d := Decision{Allowed: row.Allowed, Probe: row.Probe}
	if row.RetryAt != nil {
		d.RetryAt = *row.RetryAt
	}
	if row.ProbeID != nil {
		d.probeID = *row.ProbeID
	}
	if d.Probe {
		b.opts.Logger.InfoContext(ctx, "circuit breaker half-open, probing", slog.String("key", key))
	}
	return d, nil
}

// Record records the outcome of an attempt that Acquire allowed, passing
// back the Decision Acquire returned (outcomes of refused attempts are
// ignored). Outcomes count while the breaker is closed; a probe's outcome
// closes the breaker or opens it again, unless the probe's lease ran out
// and another probe went meanwhile. It is one statement in its own
// transaction, committed asynchronously: a crash may lose the last outcomes,
// which only delays a transition.
func (b *Breakers) Record(ctx context.Context, key string, s Settings, d Decision, success bool) error {
	if !d.Allowed {
		return nil
	}
	s, err := s.resolve(key)
	if err != nil {
		return err
	}
	var probeID *int64
	if d.Probe {
		probeID = &d.probeID
	}
	row, err := b.queries.CircuitBreakerRecord(ctx, b.pool, &dbsqlc.CircuitBreakerRecordParams{
		Key:         key,
		FailureRate: s.FailureRate,
		WindowSize:  int32(s.Window),
		CooldownMs:  s.Cooldown.Milliseconds(),
		ProbeID:     probeID,
		Failed:      !success,
		Now:         b.now(),
	})
	if err != nil {
		return fmt.Errorf("record outcome on circuit breaker %q: %w", key, err)
	}
	switch row.Transition {
	case "breaker_opened":
		b.opts.Logger.WarnContext(ctx, "circuit breaker opened",
			slog.String("key", key), slog.Bool("probe", d.Probe), slog.Duration("cooldown", s.Cooldown))
	case "breaker_closed":
		b.opts.Logger.InfoContext(ctx, "circuit breaker closed", slog.String("key", key))
	}
	return nil
}

// List returns every breaker, by key.
func (b *Breakers) List(ctx context.Context) ([]*Breaker, error) {
	rows, err := b.queries.CircuitBreakerList(ctx, b.pool)
	if err != nil {
		return nil, fmt.Errorf("list circuit breakers: %w", err)
	}
	out := make([]*Breaker, len(rows))
	for i, row := range rows {
		out[i] = breakerFrom(row)
	}
	return out, nil
}

// Get returns breaker key, or an error wrapping ErrNotFound.
func (b *Breakers) Get(ctx context.Context, key string) (*Breaker, error) {
	row, err := b.queries.CircuitBreakerGet(ctx, b.pool, key)
	if err != nil {
		return nil, translateError(err, key, "get")
	}
	return breakerFrom(row), nil
}

// ForceOpen holds breaker key open on behalf of actor: attempts are refused,
// and no probe goes, until ForceClose. It returns an error wrapping
// ErrNotFound when the breaker does not exist.
func (b *Breakers) ForceOpen(ctx context.Context, key, actor string) (*Breaker, error) {
	return b.force(ctx, key, actor, true)
}

// ForceClose closes breaker key on behalf of actor, with an empty window,
// whatever its state. It returns an error wrapping ErrNotFound when the
// breaker does not exist.
func (b *Breakers) ForceClose(ctx context.Context, key, actor string) (*Breaker, error) {
	return b.force(ctx, key, actor, false)
}

func (b *Breakers) force(ctx context.Context, key, actor string, open bool) (*Breaker, error) {
	row, err := b.queries.CircuitBreakerForce(ctx, b.pool, &dbsqlc.CircuitBreakerForceParams{
		Key:   key,
		Open:  open,
		Actor: actor,
		Now:   b.now(),
	})
	verb := "force close"
	if open {
		verb = "force open"
	}
	if err != nil {
		return nil, translateError(err, key, verb)
	}
	b.opts.Logger.InfoContext(ctx, "circuit breaker forced",
		slog.String("key", key), slog.String("state", row.State), slog.String("actor", actor))
	return breakerFrom(row), nil
}

// now returns the injected time, or nil for the database's clock.
func (b *Breakers) now() *time.Time {
	if b.opts.Now == nil {
		return nil
	}
	t := b.opts.Now()
	return &t
}

// probeLease returns the lease of a probe under s.
func (b *Breakers) probeLease(s Settings) time.Duration {
	if b.opts.ProbeLease > 0 {
		return b.opts.ProbeLease
	}
	return max(s.Cooldown, time.Minute)
}

// translateError maps "no such breaker" to ErrNotFound.
func translateError(err error, key, verb string) error {
	var pgErr *pgconn.PgError
	if errors.Is(err, pgx.ErrNoRows) || (errors.As(err, &pgErr) && pgErr.Code == "P0002") {
		return fmt.Errorf("circuit breaker %q: %w", key, ErrNotFound)
	}
	return fmt.Errorf("%s circuit breaker %q: %w", verb, key, err)
}

func breakerFrom(row *dbsqlc.BatonCircuitBreaker) *Breaker {
	failures := 0
	for _, failed := range row.Recent {
		if failed {
			failures++
		}
	}
	out := &Breaker{
		Key:            row.Key,
		State:          row.State,
		Outcomes:       len(row.Recent),
		Failures:       failures,
		Window:         int(row.WindowSize),
		FailureRate:    row.FailureRate,
		Cooldown:       time.Duration(row.CooldownMs) * time.Millisecond,
		OpenedAt:       row.OpenedAt,
		HalfOpenAt:     row.HalfOpenAt,
		ProbeExpiresAt: row.ProbeExpiresAt,
		UpdatedAt:      row.UpdatedAt,
		Forced:         row.Forced,
	}
	if out.Outcomes > 0 {
		out.ErrorRate = float64(failures) / float64(out.Outcomes)
	}
	return out
}
