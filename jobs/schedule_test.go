package jobs_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/schedule"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/jobs"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// TestScheduleCatchupWithTwoRiverClients runs the scheduler's periodic tick
// in two River clients (two pools) on one database, with an injected clock:
// after a 10-minute outage of a '* * * * *' schedule with catchup all,
// exactly 10 more runs exist.
func TestScheduleCatchupWithTwoRiverClients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.New(t)
	clock := &fakeClock{t: time.Date(2026, 6, 1, 11, 59, 30, 0, time.UTC)}
	var pools []*pgxpool.Pool
	var eng *engine.Engine
	for range 2 {
		pool := testdb.NewPoolFor(t, url)
		pools = append(pools, pool)
		e := engine.New(pool, engine.Options{})
		if eng == nil {
			eng = e
		}
		executors := executor.NewRegistry(executor.Options{})
		t.Cleanup(executors.Close)
		startClient(t, pool, jobs.ClientOptions{Engine: e, Executors: executors, Workers: 5,
			Schedules: schedule.New(pool, e, schedule.Options{Now: clock.Now})})
	}
	_, err := eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "noop", Executor: "sleep", Defaults: json.RawMessage(`{"duration":"0s"}`)})
	require.NoError(t, err)
	spec, err := engine.ParseSpec([]byte("name: report\nsteps:\n  - name: a\n    type: noop\n"))
	require.NoError(t, err)
	_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
	require.NoError(t, err)
	svc := schedule.New(pools[0], eng, schedule.Options{Now: clock.Now})
	spec, err = engine.ParseSpec([]byte("kind: schedule\nname: minutely\nworkflow: report\ncron: '* * * * *'\ncatchup: all\n"))
	require.NoError(t, err)
	_, err = svc.Create(ctx, spec.(*engine.ScheduleSpec))
	require.NoError(t, err)

	count := func() (n int) {
		require.NoError(t, pools[0].QueryRow(ctx, `SELECT count(*) FROM baton.runs WHERE trigger = 'schedule'`).Scan(&n))
		return n
	}
	ticks := func() (n int) {
		require.NoError(t, pools[0].QueryRow(ctx,
			`SELECT count(*) FROM river_job WHERE kind = 'baton_schedule_tick' AND state = 'completed'`).Scan(&n))
		return n
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			require.True(t, time.Now().Before(deadline), "timed out waiting for %s", what)
			time.Sleep(20 * time.Millisecond) // polling interval, not a wait for the work itself
		}
	}

	clock.Set(time.Date(2026, 6, 1, 12, 0, 5, 0, time.UTC))
	waitFor("the 12:00 fire", func() bool { return count() == 1 })
	clock.Set(time.Date(2026, 6, 1, 12, 10, 30, 0, time.UTC))
	waitFor("the catch-up fires", func() bool { return count() >= 11 })
	// Two more ticks after the catch-up find nothing more to start.
	after := ticks()
	waitFor("two more ticks", func() bool { return ticks() >= after+2 })
	require.Equal(t, 11, count())
	hist, err := svc.History(ctx, "minutely", 100)
	require.NoError(t, err)
	require.Len(t, hist, 11)
}
