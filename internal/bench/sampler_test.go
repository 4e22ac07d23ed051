package bench

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// activity is what a sampler saw of one application's sessions.
type activity struct {
	Samples int
	// MaxConns is the most sessions the application held at once.
	MaxConns int
	// MaxLockWait is the longest any of its sessions had been waiting for a
	// lock, and MaxFlushLockWait the longest for a session recording task
	// outcomes or starts (tasks_succeed, tasks_started, task_fail) waiting
	// on another transaction (a row, a transaction id, a table lock: what a
	// lock order is about). MaxFlushExtendWait is the longest such session
	// waited to extend a table or index file (the server's storage: another
	// writer of the same table was adding a page).
	MaxLockWait, MaxFlushLockWait, MaxFlushExtendWait time.Duration
	// LockWaitSamples counts samples in which a session waited for a lock.
	LockWaitSamples int
	// LongestWaiter is the statement (its first line) of MaxLockWait.
	LongestWaiter string
	// FlushWaitedFor says, for MaxFlushLockWait, which lock the recording
	// statement waited for and what the sessions holding it were running.
	FlushWaitedFor string
	// Deadlocks is how many deadlocks the database reported meanwhile.
	Deadlocks int64
}

// sampler watches pg_stat_activity and pg_locks every 10 ms from its own
// connection (outside the measured pool), for the sessions of one
// application_name in the current database.
type sampler struct {
	stop chan struct{}
	done chan activity
}

func startSampler(b *testing.B, url, app string) *sampler {
	b.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(url)
	require.NoError(b, err)
	cfg.RuntimeParams["application_name"] = "baton-bench-sampler"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(b, err)
	deadlocks := func() int64 {
		var n int64
		require.NoError(b, conn.QueryRow(ctx,
			"SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()").Scan(&n))
		return n
	}
	s := &sampler{stop: make(chan struct{}), done: make(chan activity, 1)}
	before := deadlocks()
	go func() {
		defer conn.Close(ctx)
		var a activity
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				// Deadlock counts reach the statistics when a backend is
				// idle (at most a second later).
				_, _ = conn.Exec(ctx, "SELECT pg_sleep(1.1)")
				_, _ = conn.Exec(ctx, "SELECT pg_stat_clear_snapshot()")
				a.Deadlocks = deadlocks() - before
				s.done <- a
				return
			case <-tick.C:
			}
			var conns int
			var wait, flushWait, extendWait float64
			var waiting int
			var waiter, flushWaitedFor string
			err := conn.QueryRow(ctx, `
				WITH w AS (
				    SELECT l.waitstart, l.locktype, a.query, a.query ~ 'tasks_succeed|tasks_started|task_fail' AS recording,
				           l.locktype || ' ' || l.mode || coalesce(' on ' || l.relation::regclass::text, '') || ', held by: ' ||
				           coalesce((SELECT string_agg(left(regexp_replace(b.query, '\s+', ' ', 'g'), 50), '; ')
				                     FROM pg_stat_activity b WHERE b.pid = ANY (pg_blocking_pids(a.pid))), '?') AS what
				    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
				    WHERE NOT l.granted AND a.datname = current_database() AND a.application_name = $1
				)
				SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1),
				       coalesce(max(extract(epoch FROM now() - waitstart)), 0),
				       coalesce((array_agg(left(query, 60) ORDER BY waitstart))[1], ''),
				       coalesce(max(extract(epoch FROM now() - waitstart)) FILTER (WHERE recording AND locktype <> 'extend'), 0),
				       coalesce((array_agg(what ORDER BY waitstart) FILTER (WHERE recording AND locktype <> 'extend'))[1], ''),
				       coalesce(max(extract(epoch FROM now() - waitstart)) FILTER (WHERE recording AND locktype = 'extend'), 0),
				       count(*)
				FROM w`, app).
				Scan(&conns, &wait, &waiter, &flushWait, &flushWaitedFor, &extendWait, &waiting)
			if err != nil {
				continue
			}
			a.Samples++
			a.MaxConns = max(a.MaxConns, conns)
			if d := time.Duration(wait * float64(time.Second)); d > a.MaxLockWait {
				a.MaxLockWait, a.LongestWaiter = d, waiter
			}
			if d := time.Duration(flushWait * float64(time.Second)); d > a.MaxFlushLockWait {
				a.MaxFlushLockWait, a.FlushWaitedFor = d, flushWaitedFor
			}
			a.MaxFlushExtendWait = max(a.MaxFlushExtendWait, time.Duration(extendWait*float64(time.Second)))
			if waiting > 0 {
				a.LockWaitSamples++
			}
		}
	}()
	return s
}

// finish stops the sampler and returns what it saw.
func (s *sampler) finish() activity {
	close(s.stop)
	return <-s.done
}
