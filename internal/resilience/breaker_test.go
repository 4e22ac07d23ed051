package resilience_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/resilience"
	"github.com/baton-run/baton/internal/testdb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// clock is a settable clock shared by the "nodes" of a test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// settings are the defaults with a round cooldown: open after >5 of 10
// failures, probe after a minute.
var settings = resilience.Settings{Cooldown: time.Minute}

type fixture struct {
	url      string
	pool     *pgxpool.Pool
	clock    *clock
	breakers *resilience.Breakers
}

func setup(t *testing.T) *fixture {
	t.Helper()
	url := testdb.New(t)
	f := &fixture{url: url, pool: openPool(t, url), clock: &clock{now: time.Now().UTC().Truncate(time.Millisecond)}}
	f.breakers = f.node(t, resilience.Options{})
	return f
}

func openPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := db.Open(context.Background(), url, db.PoolOptions{MaxConns: 4, ApplicationName: "baton-test"})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// node returns another Breakers on its own pool (another worker node),
// sharing the fixture's clock.
func (f *fixture) node(t *testing.T, opts resilience.Options) *resilience.Breakers {
	t.Helper()
	opts.Now = f.clock.Now
	return resilience.NewBreakers(openPool(t, f.url), opts)
}

// attempt acquires key, requires the attempt allowed, and records its outcome.
func (f *fixture) attempt(t *testing.T, key string, success bool) {
	t.Helper()
	ctx := context.Background()
	d, err := f.breakers.Acquire(ctx, key, settings)
	require.NoError(t, err)
	require.True(t, d.Allowed, "attempt on %s refused: %+v", key, d)
	require.False(t, d.Probe)
	require.NoError(t, f.breakers.Record(ctx, key, settings, d, success))
}

// open opens breaker key with 10 failures and returns when it opened.
func (f *fixture) open(t *testing.T, key string) time.Time {
	t.Helper()
	for range 10 {
		f.attempt(t, key, false)
	}
	f.requireState(t, key, resilience.StateOpen)
	return f.clock.Now()
}

func (f *fixture) get(t *testing.T, key string) *resilience.Breaker {
	t.Helper()
	b, err := f.breakers.Get(context.Background(), key)
	require.NoError(t, err)
	return b
}

func (f *fixture) requireState(t *testing.T, key, state string) *resilience.Breaker {
	t.Helper()
	b := f.get(t, key)
	require.Equal(t, state, b.State, "breaker %s: %+v", key, b)
	return b
}

// breakerEvent is a breaker's entry in task_events.
type breakerEvent struct {
	Kind  string
	Actor *string
	Data  map[string]any
}

func (f *fixture) events(t *testing.T, key string) []breakerEvent {
	t.Helper()
	rows, err := f.pool.Query(context.Background(),
		`SELECT kind, actor, data FROM baton.task_events WHERE run_id IS NULL AND data ->> 'key' = $1 ORDER BY id`, key)
	require.NoError(t, err)
	defer rows.Close()
	var out []breakerEvent
	for rows.Next() {
		var e breakerEvent
		require.NoError(t, rows.Scan(&e.Kind, &e.Actor, &e.Data))
		out = append(out, e)
	}
	require.NoError(t, rows.Err())
	return out
}

func eventKinds(events []breakerEvent) []string {
	kinds := make([]string, len(events))
	for i, e := range events {
		kinds[i] = e.Kind
	}
	return kinds
}

func TestBreakerOpensOnlyOnFullWindowOverRate(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()

	// 5 successes then 5 failures: half the window failed, not more.
	for range 5 {
		f.attempt(t, "half", true)
	}
	for range 5 {
		f.attempt(t, "half", false)
	}
	b := f.requireState(t, "half", resilience.StateClosed)
	require.Equal(t, 10, b.Outcomes)
	require.Equal(t, 5, b.Failures)
	require.InDelta(t, 0.5, b.ErrorRate, 1e-9)
	require.Nil(t, b.OpenedAt)

	// One more failure slides the oldest success out: 6 of the last 10 failed.
	f.attempt(t, "half", false)
	b = f.requireState(t, "half", resilience.StateOpen)
	require.Equal(t, 10, b.Outcomes)
	require.Equal(t, 6, b.Failures)
	require.InDelta(t, 0.6, b.ErrorRate, 1e-9)
	require.False(t, b.Forced)
	require.NotNil(t, b.OpenedAt)
	require.True(t, f.clock.Now().Equal(*b.OpenedAt))
	require.True(t, f.clock.Now().Add(time.Minute).Equal(*b.HalfOpenAt))

	events := f.events(t, "half")
	require.Equal(t, []string{"breaker_opened"}, eventKinds(events))
	require.Equal(t, map[string]any{"key": "half", "error_rate": 0.6}, events[0].Data)
	require.Nil(t, events[0].Actor)

	// 9 failures do not fill the window; the 10th opens the breaker.
	for range 9 {
		f.attempt(t, "young", false)
	}
	f.requireState(t, "young", resilience.StateClosed)
	f.attempt(t, "young", false)
	f.requireState(t, "young", resilience.StateOpen)

	// 4 failures in a window of 4 at rate 0.7 open; 3 of 4 (0.75) too, but 2 of 4 do not.
	tight := resilience.Settings{FailureRate: 0.7, Window: 4, Cooldown: time.Second}
	for i, failed := range []bool{true, false, true, false, true} {
		d, err := f.breakers.Acquire(ctx, "tight", tight)
		require.NoError(t, err)
		require.True(t, d.Allowed, "attempt %d", i)
		require.NoError(t, f.breakers.Record(ctx, "tight", tight, d, !failed))
	}
	b = f.requireState(t, "tight", resilience.StateClosed)
	require.Equal(t, 4, b.Outcomes)
	require.Equal(t, 2, b.Failures)
	require.Equal(t, 4, b.Window)
	require.InDelta(t, 0.7, b.FailureRate, 1e-9)
	require.Equal(t, time.Second, b.Cooldown)
	d, err := f.breakers.Acquire(ctx, "tight", tight)
	require.NoError(t, err)
	require.NoError(t, f.breakers.Record(ctx, "tight", tight, d, false))
	f.requireState(t, "tight", resilience.StateOpen) // true, false, true, true: 3/4 > 0.7
}

func TestBreakerOpenRefusesUntilCooldown(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	openedAt := f.open(t, "flaky")

	f.clock.Advance(time.Minute - time.Millisecond)
	d, err := f.breakers.Acquire(ctx, "flaky", settings)
	require.NoError(t, err)
	require.False(t, d.Allowed)
	require.False(t, d.Probe)
	require.True(t, openedAt.Add(time.Minute).Equal(d.RetryAt), "retry at %v", d.RetryAt)

	// Outcomes of attempts let through before the breaker opened, or of
	// refused attempts, change nothing.
	require.NoError(t, f.breakers.Record(ctx, "flaky", settings, resilience.Decision{Allowed: true}, true))
	require.NoError(t, f.breakers.Record(ctx, "flaky", settings, d, true))
	b := f.requireState(t, "flaky", resilience.StateOpen)
	require.Equal(t, 10, b.Failures)

	// Other keys are independent.
	f.attempt(t, "other", true)
}

func TestBreakerOneProbeAcrossNodes(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.open(t, "flaky")
	nodes := []*resilience.Breakers{f.node(t, resilience.Options{}), f.node(t, resilience.Options{})}
	f.clock.Advance(time.Minute)

	const callers = 20
	var (
		wg        sync.WaitGroup
		start     = make(chan struct{})
		decisions = make([]resilience.Decision, callers)
		errs      = make([]error, callers)
	)
	for i := range callers {
		wg.Go(func() {
			<-start
			decisions[i], errs[i] = nodes[i%2].Acquire(ctx, "flaky", settings)
		})
	}
	close(start)
	wg.Wait()

	probes, allowed := 0, 0
	for i, d := range decisions {
		require.NoError(t, errs[i])
		if d.Probe {
			probes++
		}
		if d.Allowed {
			allowed++
			continue
		}
		// Refused while the probe is in flight: ask again in a second.
		require.True(t, f.clock.Now().Add(time.Second).Equal(d.RetryAt), "retry at %v", d.RetryAt)
	}
	require.Equal(t, 1, probes)
	require.Equal(t, 1, allowed)

	b := f.requireState(t, "flaky", resilience.StateHalfOpen)
	require.True(t, f.clock.Now().Equal(*b.HalfOpenAt))
	require.True(t, f.clock.Now().Add(time.Minute).Equal(*b.ProbeExpiresAt)) // max(cooldown, 1m)
	require.Equal(t, []string{"breaker_opened", "breaker_half_open"}, eventKinds(f.events(t, "flaky")))
}

// probe advances past the cooldown and returns the probe's decision.
func (f *fixture) probe(t *testing.T, b *resilience.Breakers, key string) resilience.Decision {
	t.Helper()
	d, err := b.Acquire(context.Background(), key, settings)
	require.NoError(t, err)
	require.True(t, d.Allowed, "no probe: %+v", d)
	require.True(t, d.Probe)
	require.True(t, d.RetryAt.IsZero())
	return d
}

func TestBreakerProbeSuccessCloses(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.open(t, "flaky")
	f.clock.Advance(2 * time.Minute)
	d := f.probe(t, f.breakers, "flaky")

	require.NoError(t, f.breakers.Record(ctx, "flaky", settings, d, true))
	b := f.requireState(t, "flaky", resilience.StateClosed)
	require.Zero(t, b.Outcomes)
	require.Zero(t, b.ErrorRate)
	require.Nil(t, b.OpenedAt)
	require.Nil(t, b.HalfOpenAt)
	require.Nil(t, b.ProbeExpiresAt)

	events := f.events(t, "flaky")
	require.Equal(t, []string{"breaker_opened", "breaker_half_open", "breaker_closed"}, eventKinds(events))
	require.Equal(t, 1.0, events[1].Data["error_rate"])

	// The window starts empty: 9 failures do not open it again.
	for range 9 {
		f.attempt(t, "flaky", false)
	}
	f.requireState(t, "flaky", resilience.StateClosed)
}

func TestBreakerProbeFailureReopens(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.open(t, "flaky")
	f.clock.Advance(2 * time.Minute)
	d := f.probe(t, f.breakers, "flaky")

	f.clock.Advance(5 * time.Second)
	reopenedAt := f.clock.Now()
	require.NoError(t, f.breakers.Record(ctx, "flaky", settings, d, false))
	b := f.requireState(t, "flaky", resilience.StateOpen)
	require.True(t, reopenedAt.Equal(*b.OpenedAt))

	refused, err := f.breakers.Acquire(ctx, "flaky", settings)
	require.NoError(t, err)
	require.False(t, refused.Allowed)
	require.True(t, reopenedAt.Add(time.Minute).Equal(refused.RetryAt), "retry at %v", refused.RetryAt)

	f.clock.Advance(time.Minute)
	f.probe(t, f.breakers, "flaky")
	require.Equal(t, []string{"breaker_opened", "breaker_half_open", "breaker_opened", "breaker_half_open"},
		eventKinds(f.events(t, "flaky")))
}

func TestBreakerExpiredProbeLease(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	node := f.node(t, resilience.Options{ProbeLease: 2 * time.Minute})
	f.open(t, "flaky")
	f.clock.Advance(time.Minute)
	lost := f.probe(t, node, "flaky") // its worker dies

	f.clock.Advance(2*time.Minute - time.Millisecond)
	d, err := node.Acquire(ctx, "flaky", settings)
	require.NoError(t, err)
	require.False(t, d.Allowed)

	f.clock.Advance(time.Millisecond)
	second := f.probe(t, node, "flaky")

	// The lost probe reports late: it is stale and changes nothing.
	require.NoError(t, node.Record(ctx, "flaky", settings, lost, true))
	f.requireState(t, "flaky", resilience.StateHalfOpen)

	require.NoError(t, node.Record(ctx, "flaky", settings, second, true))
	f.requireState(t, "flaky", resilience.StateClosed)

	events := f.events(t, "flaky")
	require.Equal(t, []string{"breaker_opened", "breaker_half_open", "breaker_half_open", "breaker_closed"}, eventKinds(events))
	require.Equal(t, false, events[1].Data["probe_lease_expired"])
	require.Equal(t, true, events[2].Data["probe_lease_expired"])
}

func TestBreakerForce(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	for range 3 {
		f.attempt(t, "api", false)
	}

	b, err := f.breakers.ForceOpen(ctx, "api", "alice")
	require.NoError(t, err)
	require.Equal(t, resilience.StateOpen, b.State)
	require.True(t, b.Forced)
	require.True(t, f.clock.Now().Equal(*b.OpenedAt))
	require.Nil(t, b.HalfOpenAt)
	require.Equal(t, 3, b.Failures)

	// A forced breaker never half-opens by itself.
	f.clock.Advance(24 * time.Hour)
	d, err := f.breakers.Acquire(ctx, "api", settings)
	require.NoError(t, err)
	require.False(t, d.Allowed)
	require.True(t, f.clock.Now().Add(time.Minute).Equal(d.RetryAt), "retry at %v", d.RetryAt)

	b, err = f.breakers.ForceClose(ctx, "api", "bob")
	require.NoError(t, err)
	require.Equal(t, resilience.StateClosed, b.State)
	require.False(t, b.Forced)
	require.Zero(t, b.Outcomes)
	require.Nil(t, b.OpenedAt)
	f.attempt(t, "api", true)

	// Forcing open a half-open breaker voids its probe.
	f.open(t, "flaky")
	f.clock.Advance(time.Minute)
	probe := f.probe(t, f.breakers, "flaky")
	_, err = f.breakers.ForceOpen(ctx, "flaky", "alice")
	require.NoError(t, err)
	require.NoError(t, f.breakers.Record(ctx, "flaky", settings, probe, true))
	require.True(t, f.requireState(t, "flaky", resilience.StateOpen).Forced)

	events := f.events(t, "api")
	require.Equal(t, []string{"breaker_forced_open", "breaker_forced_closed"}, eventKinds(events))
	require.Equal(t, "alice", *events[0].Actor)
	require.Equal(t, map[string]any{"key": "api", "error_rate": 1.0}, events[0].Data)
	require.Equal(t, "bob", *events[1].Actor)

	_, err = f.breakers.ForceOpen(ctx, "nope", "alice")
	require.ErrorIs(t, err, resilience.ErrNotFound)
	require.ErrorIs(t, err, engine.ErrNotFound)
	_, err = f.breakers.ForceClose(ctx, "nope", "alice")
	require.ErrorIs(t, err, resilience.ErrNotFound)
	_, err = f.breakers.Get(ctx, "nope")
	require.ErrorIs(t, err, resilience.ErrNotFound)
}

func TestBreakerListAndNotify(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()

	conn, err := f.pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, "LISTEN baton_events")
	require.NoError(t, err)

	f.attempt(t, "b", true)
	f.open(t, "a")
	list, err := f.breakers.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "a", list[0].Key)
	require.Equal(t, resilience.StateOpen, list[0].State)
	require.Equal(t, "b", list[1].Key)
	require.Equal(t, resilience.StateClosed, list[1].State)
	require.Equal(t, 1, list[1].Outcomes)

	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, err := conn.Conn().WaitForNotification(waitCtx)
	require.NoError(t, err)
	require.Equal(t, "baton_events", n.Channel)
	var payload map[string]any
	require.NoError(t, json.Unmarshal([]byte(n.Payload), &payload))
	require.Equal(t, map[string]any{"kind": "breaker_opened", "breaker": "a"}, payload)
}

func TestBreakerDatabaseClock(t *testing.T) {
	t.Parallel()
	pool := testdb.NewPool(t)
	breakers := resilience.NewBreakers(pool, resilience.Options{})
	ctx := context.Background()
	s := resilience.Settings{Window: 2, Cooldown: time.Hour}

	before := time.Now()
	for range 2 {
		d, err := breakers.Acquire(ctx, "db-clock", s)
		require.NoError(t, err)
		require.NoError(t, breakers.Record(ctx, "db-clock", s, d, false))
	}
	d, err := breakers.Acquire(ctx, "db-clock", s)
	require.NoError(t, err)
	require.False(t, d.Allowed)
	require.WithinRange(t, d.RetryAt, before.Add(time.Hour-time.Minute), time.Now().Add(time.Hour+time.Minute))
}

func TestBreakerBadInput(t *testing.T) {
	t.Parallel()
	b := resilience.NewBreakers(nil, resilience.Options{})
	_, err := b.Acquire(context.Background(), "", resilience.Settings{})
	require.ErrorIs(t, err, engine.ErrInvalid)
	_, err = b.Acquire(context.Background(), "x", resilience.Settings{FailureRate: 1})
	require.ErrorIs(t, err, engine.ErrInvalid)
	err = b.Record(context.Background(), "x", resilience.Settings{Window: 1001}, resilience.Decision{Allowed: true}, true)
	require.ErrorIs(t, err, engine.ErrInvalid)
}

// BenchmarkAcquireClosed measures the hot path: an attempt asking a closed
// breaker.
func BenchmarkAcquireClosed(b *testing.B) {
	breakers := resilience.NewBreakers(testdb.NewPool(b), resilience.Options{})
	ctx := context.Background()
	for b.Loop() {
		if _, err := breakers.Acquire(ctx, "bench", settings); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordParallel measures outcomes recorded by many workers on one
// (hot) breaker row.
func BenchmarkRecordParallel(b *testing.B) {
	breakers := resilience.NewBreakers(testdb.NewPool(b), resilience.Options{})
	ctx := context.Background()
	d, err := breakers.Acquire(ctx, "bench", settings)
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := breakers.Record(ctx, "bench", settings, d, true); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
