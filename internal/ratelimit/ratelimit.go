// Package ratelimit enforces per-caller request rate limits (token buckets)
// and daily run quotas across every API process sharing one database.
//
// Each bucket lives in baton.rate_limit_buckets. A process does not visit
// the database on every request: it leases a few tokens at a time
// (baton.rate_limit_take) and spends them locally. The lease is about a
// tenth of the tokens the bucket held at the last visit (at least 1, at
// most MaxLease), so while a caller has plenty of room a process visits
// the database once every several requests, and near the limit every
// request does: the cluster never admits more than the bucket allows, and
// refuses early by at most the tokens other processes hold in their
// leases, which near the limit is about one per process. A lease unspent
// after LeaseTTL stops being spent and goes back to the bucket at the
// process's next visit for that caller.
package ratelimit

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// Policy is a token bucket: Limit tokens a minute, holding at most
// Limit + Burst.
type Policy struct {
	Limit int
	Burst int
}

// Capacity is the most the bucket holds.
func (p Policy) Capacity() int { return p.Limit + p.Burst }

func (p Policy) perSecond() float64 { return float64(p.Limit) / 60 }

// Decision is the outcome of Allow.
type Decision struct {
	Allowed bool
	Policy  Policy
	// Remaining is an estimate of the tokens left (this process's lease
	// plus the bucket as last read).
	Remaining int
	// Reset is when the bucket will be full again (estimate).
	Reset time.Duration
	// RetryAfter is, for a refusal, when a token will be available.
	RetryAfter time.Duration
}

// Options configures a Limiter.
type Options struct {
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxLease caps the tokens leased at once (default 20).
	MaxLease int
	// LeaseTTL is how long leased tokens may be spent (default 1 s).
	LeaseTTL time.Duration
}

// Limiter is the cluster-wide rate limiter of one process.
type Limiter struct {
	pool     *pgxpool.Pool
	q        *dbsqlc.Queries
	logger   *slog.Logger
	now      func() time.Time
	maxLease int
	leaseTTL time.Duration

	mu      sync.Mutex
	buckets map[string]*lease
	notices *notices
}

// lease is what this process holds of one bucket.
type lease struct {
	mu         sync.Mutex
	tokens     int       // leased and unspent
	unspent    int       // tokens of an expired lease, to give back
	leasedAt   time.Time // when tokens were leased
	known      float64   // the bucket's tokens after the last visit
	knownAt    time.Time
	emptyUntil time.Time // refuse without visiting until then
}

// New returns a Limiter on pool.
func New(pool *pgxpool.Pool, opts Options) *Limiter {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxLease <= 0 {
		opts.MaxLease = 20
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = time.Second
	}
	return &Limiter{
		pool: pool, q: dbsqlc.New(), logger: opts.Logger, now: opts.Now,
		maxLease: opts.MaxLease, leaseTTL: opts.LeaseTTL, buckets: map[string]*lease{},
		notices: newNotices(pool, opts.Now),
	}
}

// maxBuckets bounds the leases held in memory; they are dropped when full
// (losing at most one lease each).
const maxBuckets = 100000

func (l *Limiter) bucket(subject string) *lease {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[subject]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			clear(l.buckets)
		}
		b = &lease{}
		l.buckets[subject] = b
	}
	return b
}

// Allow spends one token of subject's bucket (such as "key:12" or
// "ip:192.0.2.1") under policy. actor names the caller in the
// rate_limited event a refusal writes (at most one a minute per subject
// across the cluster).
func (l *Limiter) Allow(ctx context.Context, subject, actor string, policy Policy) (Decision, error) {
	b := l.bucket(subject)
	b.mu.Lock()
	defer b.mu.Unlock()
	now := l.now()
	if b.tokens > 0 && now.Sub(b.leasedAt) > l.leaseTTL {
		b.unspent, b.tokens = b.tokens, 0 // given back at the next visit
	}
	if b.tokens == 0 {
		if now.Before(b.emptyUntil) {
			d := l.refusal(b, policy, now)
			l.notify(ctx, subject, actor, policy)
			return d, nil
		}
		if err := l.take(ctx, b, subject, policy, now); err != nil {
			return Decision{}, err
		}
		if b.tokens == 0 {
			d := l.refusal(b, policy, now)
			l.notify(ctx, subject, actor, policy)
			return d, nil
		}
	}
	b.tokens--
	est := b.estimate(policy, now)
	return Decision{
		Allowed: true, Policy: policy, Remaining: b.tokens + int(est),
		Reset: untilFull(est+float64(b.tokens), policy),
	}, nil
}

// take visits the database for a lease.
func (l *Limiter) take(ctx context.Context, b *lease, subject string, policy Policy, now time.Time) error {
	want := policy.Capacity() / 10 // first visit: assume a full bucket
	if !b.knownAt.IsZero() {
		want = int(b.estimate(policy, now) / 10)
	}
	want = max(1, min(want, l.maxLease))
	row, err := l.q.RateLimitTake(ctx, l.pool, &dbsqlc.RateLimitTakeParams{
		Subject: subject, Capacity: float64(policy.Capacity()), PerSecond: policy.perSecond(), Want: int32(want), Now: now,
		Returned: int32(b.unspent),
	})
	if err != nil {
		return fmt.Errorf("rate limit %s: %w", subject, err)
	}
	b.unspent = 0
	b.tokens = int(row.Granted)
	b.leasedAt = now
	b.known = row.Tokens
	b.knownAt = now
	if b.tokens == 0 {
		b.emptyUntil = now.Add(time.Duration((1 - row.Tokens) / policy.perSecond() * float64(time.Second)))
	}
	return nil
}

// estimate is the bucket's tokens at now, from the last visit.
func (b *lease) estimate(policy Policy, now time.Time) float64 {
	return math.Min(float64(policy.Capacity()), b.known+now.Sub(b.knownAt).Seconds()*policy.perSecond())
}

func (l *Limiter) refusal(b *lease, policy Policy, now time.Time) Decision {
	retry := max(b.emptyUntil.Sub(now), time.Second)
	return Decision{Policy: policy, RetryAfter: retry, Reset: untilFull(b.estimate(policy, now), policy)}
}

func untilFull(tokens float64, policy Policy) time.Duration {
	missing := float64(policy.Capacity()) - tokens
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / policy.perSecond() * float64(time.Second))
}

func (l *Limiter) notify(ctx context.Context, subject, actor string, policy Policy) {
	data, _ := json.Marshal(map[string]any{"subject": subject, "limit": policy.Limit, "burst": policy.Burst})
	if err := l.notices.write(ctx, subject, "rate_limited", actor, data); err != nil {
		l.logger.WarnContext(ctx, "write rate_limited event", slog.String("subject", subject), slog.String("error", err.Error()))
	}
}

// notices writes rate_limited and quota_exceeded events, at most one per
// subject, kind and minute: checked in memory first, then in the database
// (baton.rate_limit_notices) for the cluster.
type notices struct {
	pool *pgxpool.Pool
	q    *dbsqlc.Queries
	now  func() time.Time

	mu   sync.Mutex
	last map[string]time.Time
}

func newNotices(pool *pgxpool.Pool, now func() time.Time) *notices {
	return &notices{pool: pool, q: dbsqlc.New(), now: now, last: map[string]time.Time{}}
}

// noticeEvery is the least time between two events of one subject and kind.
const noticeEvery = time.Minute

func (n *notices) write(ctx context.Context, subject, kind, actor string, data []byte) error {
	now := n.now()
	k := kind + " " + subject
	n.mu.Lock()
	if last, ok := n.last[k]; ok && now.Sub(last) < noticeEvery {
		n.mu.Unlock()
		return nil
	}
	if len(n.last) >= maxBuckets {
		clear(n.last)
	}
	n.last[k] = now
	n.mu.Unlock()
	var actorArg *string
	if actor != "" {
		actorArg = &actor
	}
	_, err := n.q.RateLimitNotice(ctx, n.pool, &dbsqlc.RateLimitNoticeParams{
		Subject: subject, Kind: kind, Now: now, Actor: actorArg, Data: data,
	})
	return err
}
