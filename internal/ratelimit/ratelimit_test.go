package ratelimit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/ratelimit"
	"github.com/baton-run/baton/internal/testdb"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// TestLeasesShareOneBucket: three limiters (three API processes) on one
// database admit exactly the bucket's capacity between them, visiting the
// database far less than once a request while there is room.
func TestLeasesShareOneBucket(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	c := &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	policy := ratelimit.Policy{Limit: 100, Burst: 20}
	var nodes []*ratelimit.Limiter
	for range 3 {
		nodes = append(nodes, ratelimit.New(pool, ratelimit.Options{Now: c.Now}))
	}
	admitted := 0
	for i := range 300 {
		d, err := nodes[i%3].Allow(ctx, "key:1", "k", policy)
		require.NoError(t, err)
		if d.Allowed {
			admitted++
		} else {
			require.GreaterOrEqual(t, d.RetryAfter, time.Second)
		}
	}
	require.LessOrEqual(t, admitted, 120)
	require.GreaterOrEqual(t, admitted, 117, "refused early by at most one token per node")

	// A minute later the bucket has 100 tokens again (100 a minute).
	c.Add(time.Minute)
	admitted = 0
	for i := range 300 {
		d, err := nodes[i%3].Allow(ctx, "key:1", "k", policy)
		require.NoError(t, err)
		if d.Allowed {
			admitted++
		}
	}
	require.LessOrEqual(t, admitted, 100)
	require.GreaterOrEqual(t, admitted, 97)
}

func TestQuotaResetsDaily(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	var keyID int64
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO baton.api_keys (name, prefix, secret_hash, role)
		VALUES ('q', 'abcdefghij', decode(repeat('00', 32), 'hex'), 'operator') RETURNING id`).Scan(&keyID))
	c := &clock{t: time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC)}
	l := ratelimit.New(pool, ratelimit.Options{Now: c.Now})
	for i := 1; i <= 3; i++ {
		n, err := l.TakeRun(ctx, keyID, "q", 3)
		require.NoError(t, err)
		require.Equal(t, i, n)
	}
	_, err := l.TakeRun(ctx, keyID, "q", 3)
	require.ErrorIs(t, err, ratelimit.ErrQuotaExceeded)
	require.NoError(t, l.RefundRun(ctx, keyID))
	n, err := l.RunsToday(ctx, keyID)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	c.Add(time.Hour) // past midnight UTC
	n, err = l.TakeRun(ctx, keyID, "q", 3)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	var events int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM baton.task_events WHERE kind = 'quota_exceeded'`).Scan(&events))
	require.Equal(t, 1, events)
}

// TestExpiredLeaseGoesBack: tokens a process leased and did not spend in
// time go back to the bucket, so they are not lost to the other processes.
func TestExpiredLeaseGoesBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	c := &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	policy := ratelimit.Policy{Limit: 100, Burst: 20}
	a := ratelimit.New(pool, ratelimit.Options{Now: c.Now})
	b := ratelimit.New(pool, ratelimit.Options{Now: c.Now})
	d, err := a.Allow(ctx, "key:1", "k", policy) // leases 12, spends 1
	require.NoError(t, err)
	require.True(t, d.Allowed)
	c.Add(2 * time.Second) // a's lease expires; the bucket refills 3.3 (108 → 111.3)
	admitted := 1
	for i := range 300 {
		l := []*ratelimit.Limiter{a, b}[i%2]
		d, err := l.Allow(ctx, "key:1", "k", policy)
		require.NoError(t, err)
		if d.Allowed {
			admitted++
		}
	}
	// 1 + 120 (the bucket is full again once a's 11 tokens are back).
	require.GreaterOrEqual(t, admitted, 119)
	require.LessOrEqual(t, admitted, 121)
}
