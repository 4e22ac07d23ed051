package stream_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baton-run/baton/internal/stream"
	"github.com/baton-run/baton/internal/testdb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"))
}

// setup runs a hub on a fresh database until the test ends.
func setup(t *testing.T, opts stream.Options) (*stream.Hub, *pgxpool.Pool) {
	t.Helper()
	pool := testdb.NewPool(t)
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	hub := stream.New(pool, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = hub.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, hub.Ready, 10*time.Second, 5*time.Millisecond)
	return hub, pool
}

// insert writes one event in tx and returns its id (the notice goes out at
// commit).
func insert(t *testing.T, tx pgx.Tx, kind string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, tx.QueryRow(context.Background(),
		`WITH e AS (INSERT INTO baton.task_events (kind) VALUES ($1) RETURNING id)
		 SELECT id FROM e, pg_notify('baton_events', '{}')`, kind).Scan(&id))
	return id
}

// collect streams into a channel until the test ends.
func collect(t *testing.T, hub *stream.Hub, p stream.StreamParams) <-chan *stream.Event {
	t.Helper()
	ch := make(chan *stream.Event, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	p.Started = func() error { close(started); return nil }
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hub.Stream(ctx, p, stream.Sink{
			Send:      func(ev *stream.Event) error { ch <- ev; return nil },
			Heartbeat: func() error { return nil },
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	<-started
	return ch
}

func next(t *testing.T, ch <-chan *stream.Event, d time.Duration) *stream.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(d):
		t.Fatalf("no event within %s", d)
		return nil
	}
}

func quiet(t *testing.T, ch <-chan *stream.Event, d time.Duration) {
	t.Helper()
	select {
	case ev := <-ch:
		t.Fatalf("unexpected event %d %s", ev.ID, ev.Kind)
	case <-time.After(d):
	}
}

// TestOutOfOrderCommits: a transaction holding a smaller id commits after
// one holding a larger id. The hub holds the larger one back until the
// smaller commits, so the stream stays in id order and Last-Event-ID stays
// a correct cursor.
func TestOutOfOrderCommits(t *testing.T) {
	t.Parallel()
	hub, pool := setup(t, stream.Options{GapWait: time.Minute})
	ctx := context.Background()
	ch := collect(t, hub, stream.StreamParams{})

	early, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = early.Rollback(ctx) }()
	small := insert(t, early, "queue_paused")

	late, err := pool.Begin(ctx)
	require.NoError(t, err)
	large := insert(t, late, "queue_resumed")
	require.Greater(t, large, small)
	require.NoError(t, late.Commit(ctx))

	quiet(t, ch, 300*time.Millisecond) // held back behind the open transaction
	require.NoError(t, early.Commit(ctx))
	require.Equal(t, small, next(t, ch, 5*time.Second).ID)
	require.Equal(t, large, next(t, ch, 5*time.Second).ID)
}

// TestRolledBackIDIsSkipped: an id whose transaction rolled back never
// appears; the hub proves it dead (every transaction running when the gap
// was seen has ended) and moves on long before GapWait. Snapshots are the
// server's, not the database's: a long transaction of another test on the
// same server delays the proof, so the bound is generous, and far below
// GapWait.
func TestRolledBackIDIsSkipped(t *testing.T) {
	t.Parallel()
	hub, pool := setup(t, stream.Options{GapWait: 10 * time.Minute})
	ctx := context.Background()
	ch := collect(t, hub, stream.StreamParams{})

	doomed, err := pool.Begin(ctx)
	require.NoError(t, err)
	lost := insert(t, doomed, "queue_paused")
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	kept := insert(t, tx, "queue_resumed")
	require.NoError(t, tx.Commit(ctx))
	require.Greater(t, kept, lost)

	quiet(t, ch, 200*time.Millisecond)
	start := time.Now()
	require.NoError(t, doomed.Rollback(ctx))
	require.Equal(t, kept, next(t, ch, 2*time.Minute).ID)
	require.Less(t, time.Since(start), 2*time.Minute)
}

// TestGapWaitBoundsTheHold: a transaction that keeps an id uncommitted
// longer than GapWait holds the stream back for GapWait at most.
func TestGapWaitBoundsTheHold(t *testing.T) {
	t.Parallel()
	hub, pool := setup(t, stream.Options{GapWait: 300 * time.Millisecond})
	ctx := context.Background()
	ch := collect(t, hub, stream.StreamParams{})

	open, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = open.Rollback(ctx) }()
	insert(t, open, "queue_paused")
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	kept := insert(t, tx, "queue_resumed")
	require.NoError(t, tx.Commit(ctx))
	start := time.Now()
	require.Equal(t, kept, next(t, ch, 5*time.Second).ID)
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
}

// TestStopEndsStreams: stopping the hub ends every stream with ErrClosed.
func TestStopEndsStreams(t *testing.T) {
	t.Parallel()
	pool := testdb.NewPool(t)
	hub := stream.New(pool, stream.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = hub.Run(ctx) }()
	require.Eventually(t, hub.Ready, 10*time.Second, 5*time.Millisecond)
	ended := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		ended <- hub.Stream(context.Background(), stream.StreamParams{Started: func() error { close(started); return nil }},
			stream.Sink{Send: func(*stream.Event) error { return nil }, Heartbeat: func() error { return nil }})
	}()
	<-started
	cancel()
	<-done
	require.ErrorIs(t, <-ended, stream.ErrClosed)
	_, _, err := hub.Subscribe(stream.Filter{})
	require.ErrorIs(t, err, stream.ErrClosed)
}
