package alert_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/alert"
	"github.com/baton-run/baton/internal/testdb"
)

// noJobs is a JobInserter for rules without channels: it must not be called.
type noJobs struct{ t *testing.T }

func (n noJobs) InsertManyTx(context.Context, pgx.Tx, []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	n.t.Fatal("no delivery expected")
	return nil, nil
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestEvaluatorReadsEventsCommittedOutOfOrder holds a transaction that
// wrote a breaker_opened event open while a later event commits: the
// evaluation moves its high-water mark past the in-flight id, and reads the
// event once it commits, exactly once. An id whose transaction rolls back
// is given up after 30 s.
func TestEvaluatorReadsEventsCommittedOutOfOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	clock := &fakeClock{now: time.Now()}
	svc, err := alert.New(pool, alert.Options{Now: clock.Now})
	require.NoError(t, err)
	ins := noJobs{t}
	const ev = `INSERT INTO baton.task_events (kind, data) VALUES ('breaker_opened', jsonb_build_object('key', $1::text))`
	slow, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = slow.Exec(ctx, ev, "slow")
	require.NoError(t, err)
	_, err = pool.Exec(ctx, ev, "fast")
	require.NoError(t, err)

	res, err := svc.Evaluate(ctx, ins)
	require.NoError(t, err)
	require.Equal(t, 1, res.Fired, "the committed event")

	require.NoError(t, slow.Commit(ctx))
	res, err = svc.Evaluate(ctx, ins)
	require.NoError(t, err)
	require.Equal(t, 1, res.Fired, "the late event, once committed")
	res, err = svc.Evaluate(ctx, ins)
	require.NoError(t, err)
	require.Equal(t, 0, res.Events, "nothing is read twice")

	alerts, err := svc.ListAlerts(ctx, alert.AlertFilter{State: "firing", Limit: 10})
	require.NoError(t, err)
	var keys []string
	for _, a := range alerts {
		keys = append(keys, a.GroupKey)
		require.Equal(t, int64(1), a.Occurrences)
	}
	require.ElementsMatch(t, []string{"slow", "fast"}, keys)

	// Disabling a rule resolves its open alerts (nothing is sent).
	rules, err := svc.ListRules(ctx)
	require.NoError(t, err)
	var breakerRule *alert.Rule
	for _, r := range rules {
		if r.Kind == alert.KindBreakerOpen {
			breakerRule = r
		}
	}
	off := false
	spec := alert.RuleSpec{Name: breakerRule.Name, Kind: breakerRule.Kind, Enabled: &off, GroupBy: breakerRule.GroupBy}
	_, err = svc.UpdateRule(ctx, breakerRule.ID, spec)
	require.NoError(t, err)
	res, err = svc.Evaluate(ctx, ins)
	require.NoError(t, err)
	require.Equal(t, 2, res.Resolved)
	on := true
	spec.Enabled = &on
	_, err = svc.UpdateRule(ctx, breakerRule.ID, spec)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, ev, "fast")
	require.NoError(t, err)
	res, err = svc.Evaluate(ctx, ins)
	require.NoError(t, err)
	require.Equal(t, 1, res.Fired, "a new episode")

	// A rolled-back event leaves a gap that is given up after 30 s.
	lost, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = lost.Exec(ctx, ev, "lost")
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO baton.task_events (kind, data) VALUES ('breaker_closed', '{"key": "fast"}')`)
	require.NoError(t, err)
	require.NoError(t, lost.Rollback(ctx))
	res, err = svc.Evaluate(ctx, ins)
	require.NoError(t, err)
	require.Equal(t, 1, res.Resolved)
	var pending int
	require.NoError(t, pool.QueryRow(ctx, "SELECT cardinality(pending_ids) FROM baton.alert_evaluator").Scan(&pending))
	require.Equal(t, 1, pending)
	clock.advance(31 * time.Second)
	_, err = svc.Evaluate(ctx, ins)
	require.NoError(t, err)
	require.NoError(t, pool.QueryRow(ctx, "SELECT cardinality(pending_ids) FROM baton.alert_evaluator").Scan(&pending))
	require.Equal(t, 0, pending)
}

// TestChannelsRefusePrivateAddresses: with private addresses refused (the
// default), a channel whose host name resolves to loopback is refused when
// dialled, as a permanent failure, and the logged error does not repeat a
// Slack URL (its path is the secret).
func TestChannelsRefusePrivateAddresses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	key := make([]byte, 32)
	svc, err := alert.New(pool, alert.Options{SecretKey: key})
	require.NoError(t, err)
	for _, spec := range []alert.ChannelSpec{
		{Name: "hook", Kind: "webhook", URL: "http://localhost:9/hook"},
		{Name: "slack", Kind: "slack", URL: "http://localhost:9/services/T0/B0/SECRETTOKEN"},
		{Name: "mail", Kind: "email", Host: "localhost", Port: 9, From: "a@example.com", To: []string{"b@example.com"}},
	} {
		ch, _, err := svc.CreateChannel(ctx, spec)
		require.NoError(t, err)
		d, err := svc.SendTest(ctx, ch.ID)
		require.NoError(t, err)
		require.False(t, d.Succeeded)
		require.Contains(t, d.Error, "private address refused", spec.Name)
		require.NotContains(t, d.Error, "SECRETTOKEN")
	}
	var logged int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM baton.alert_deliveries WHERE event = 'test' AND NOT succeeded AND error NOT LIKE '%SECRETTOKEN%'").Scan(&logged))
	require.Equal(t, 3, logged)
}
