package schedule_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/schedule"
	"github.com/baton-run/baton/internal/testdb"
)

// clock is an injected clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type env struct {
	ctx   context.Context
	url   string
	pool  *pgxpool.Pool
	eng   *engine.Engine
	clock *clock
	svc   *schedule.Service
}

func setup(t *testing.T, start time.Time) *env {
	t.Helper()
	ctx := context.Background()
	url := testdb.New(t)
	pool := testdb.NewPoolFor(t, url)
	eng := engine.New(pool, engine.Options{})
	_, err := eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "noop", Executor: "sleep", Defaults: json.RawMessage(`{"duration":"0s"}`)})
	require.NoError(t, err)
	spec, err := engine.ParseSpec([]byte("kind: workflow\nname: report\nsteps:\n  - name: a\n    type: noop\n"))
	require.NoError(t, err)
	_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
	require.NoError(t, err)
	c := &clock{t: start}
	return &env{ctx: ctx, url: url, pool: pool, eng: eng, clock: c, svc: schedule.New(pool, eng, schedule.Options{Now: c.Now})}
}

func (e *env) create(t *testing.T, yaml string) *schedule.Schedule {
	t.Helper()
	spec, err := engine.ParseSpec([]byte(yaml))
	require.NoError(t, err)
	s, err := e.svc.Create(e.ctx, spec.(*engine.ScheduleSpec))
	require.NoError(t, err)
	return s
}

func (e *env) tick(t *testing.T) schedule.TickResult {
	t.Helper()
	res, err := e.svc.Tick(e.ctx)
	require.NoError(t, err)
	return res
}

// refs returns the trigger_ref of the schedule's runs, in start order.
func (e *env) refs(t *testing.T) []string {
	t.Helper()
	rows, err := e.pool.Query(e.ctx, `SELECT trigger_ref FROM baton.runs WHERE trigger = 'schedule' ORDER BY id`)
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

func (e *env) runStatus(t *testing.T, ref string) string {
	t.Helper()
	var st string
	require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT status FROM baton.runs WHERE trigger_ref = $1`, ref).Scan(&st))
	return st
}

func (e *env) cancel(t *testing.T, ref string) {
	t.Helper()
	var id int64
	require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT id FROM baton.runs WHERE trigger_ref = $1`, ref).Scan(&id))
	_, err := e.eng.CancelRun(e.ctx, id, "test")
	require.NoError(t, err)
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// runTicks ticks every step from the clock's time to until.
func (e *env) runTicks(t *testing.T, until time.Time, step time.Duration) {
	t.Helper()
	for e.clock.Now().Before(until) {
		e.clock.Add(step)
		e.tick(t)
	}
}

func TestTickDSTTransitionDays(t *testing.T) {
	t.Parallel()
	e := setup(t, ts("2026-03-07T12:00:00Z"))
	e.create(t, "kind: schedule\nname: nightly\nworkflow: report\ncron: 30 2 * * *\ntime_zone: America/New_York\n"+
		"input:\n  day: \"{{ .schedule.logical_date }}\"\n  at: \"{{ .schedule.fire_time }}\"\n")
	e.create(t, "kind: schedule\nname: hourly\nworkflow: report\ncron: 0 * * * *\ntime_zone: America/New_York\n")

	countDay := func(prefix string, from, to time.Time) (nightly []string, hourly int) {
		for _, ref := range e.refs(t) {
			at, _ := time.Parse(time.RFC3339, ref[len(ref)-20:])
			if at.Before(from) || !at.Before(to) {
				continue
			}
			if ref[:len(prefix)] == prefix {
				nightly = append(nightly, ref)
			} else {
				hourly++
			}
		}
		return nightly, hourly
	}
	ny, _ := time.LoadLocation("America/New_York")

	// Spring forward, 2026-03-08: 02:30 does not exist.
	e.runTicks(t, ts("2026-03-09T12:00:00Z"), 5*time.Minute)
	nightly, hourly := countDay("nightly@", time.Date(2026, 3, 8, 0, 0, 0, 0, ny), time.Date(2026, 3, 9, 0, 0, 0, 0, ny))
	require.Equal(t, []string{"nightly@2026-03-08T07:00:00Z"}, nightly, "fires once, at 03:00 EDT")
	require.Equal(t, 23, hourly)

	var input map[string]string
	require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT input FROM baton.runs WHERE trigger_ref = 'nightly@2026-03-08T07:00:00Z'`).Scan(&input))
	require.Equal(t, map[string]string{"day": "2026-03-08", "at": "2026-03-08T07:00:00Z"}, input)

	// Fall back, 2026-11-01: 01:00-02:00 happens twice.
	e.clock.Set(ts("2026-10-31T12:00:00Z"))
	_, err := e.pool.Exec(e.ctx, `UPDATE baton.schedules SET cursor_at = $1, next_due_at = NULL`, e.clock.Now())
	require.NoError(t, err)
	e.runTicks(t, ts("2026-11-02T12:00:00Z"), 5*time.Minute)
	nightly, hourly = countDay("nightly@", time.Date(2026, 11, 1, 0, 0, 0, 0, ny), time.Date(2026, 11, 2, 0, 0, 0, 0, ny))
	require.Equal(t, []string{"nightly@2026-11-01T07:30:00Z"}, nightly, "fires once, at 02:30 EST")
	require.Equal(t, 25, hourly)
}

func TestCatchupAllAfterOutageWithTwoSchedulers(t *testing.T) {
	t.Parallel()
	e := setup(t, ts("2026-06-01T11:59:30Z"))
	e.create(t, "kind: schedule\nname: minutely\nworkflow: report\ncron: '* * * * *'\ncatchup: all\n")
	e.clock.Set(ts("2026-06-01T12:00:05Z"))
	require.Equal(t, 1, e.tick(t).Started)

	// Outage: nothing ticks until 12:10:30. Then two scheduler instances,
	// each with its own pool, tick at once, several times.
	e.clock.Set(ts("2026-06-01T12:10:30Z"))
	other := schedule.New(testdb.NewPoolFor(t, e.url), e.eng, schedule.Options{Now: e.clock.Now})
	var wg sync.WaitGroup
	results := make([]int, 2)
	for i, svc := range []*schedule.Service{e.svc, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				res, err := svc.Tick(e.ctx)
				if err != nil {
					t.Error(err)
				}
				results[i] += res.Started
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 10, results[0]+results[1])
	refs := e.refs(t)
	require.Len(t, refs, 11)
	require.Equal(t, "minutely@2026-06-01T12:01:00Z", refs[1])
	require.Equal(t, "minutely@2026-06-01T12:10:00Z", refs[10])

	hist, err := e.svc.History(e.ctx, "minutely", 100)
	require.NoError(t, err)
	require.Len(t, hist, 11)
	kinds := map[string]int{}
	for _, h := range hist {
		kinds[h.Kind]++
		require.Equal(t, schedule.FireStarted, h.Status)
		require.NotNil(t, h.RunID)
		require.Equal(t, "running", h.RunStatus)
	}
	require.Equal(t, map[string]int{"scheduled": 2, "catchup": 9}, kinds)

	// A restarted scheduler (a new instance) resumes from the cursor.
	e.clock.Set(ts("2026-06-01T12:11:01Z"))
	restarted := schedule.New(e.pool, e.eng, schedule.Options{Now: e.clock.Now})
	res, err := restarted.Tick(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, res.Started)
	res, err = restarted.Tick(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 0, res.Started, "nothing due: nothing started")
}

func TestCatchupPolicies(t *testing.T) {
	t.Parallel()
	e := setup(t, ts("2026-06-01T11:59:30Z"))
	for _, p := range []string{"none", "latest", "all"} {
		e.create(t, "kind: schedule\nname: c-"+p+"\nworkflow: report\ncron: '*/5 * * * *'\ncatchup: "+p+"\nmax_catchup: 3\n")
	}
	e.clock.Set(ts("2026-06-01T13:02:00Z")) // 12:00 .. 13:00 missed: 13 fires, 13:00 late too
	e.tick(t)
	count := map[string]int{}
	for _, ref := range e.refs(t) {
		count[ref[:len(ref)-21]]++
	}
	require.Equal(t, map[string]int{"c-latest": 1, "c-all": 3}, count)
	hist, err := e.svc.History(e.ctx, "c-none", 100)
	require.NoError(t, err)
	require.Len(t, hist, 3, "missed fires are recorded, at most max_catchup")
	require.Equal(t, schedule.FireMissed, hist[0].Status)

	// Disabled, then enabled: the fires in between follow the policy.
	_, err = e.svc.SetEnabled(e.ctx, "c-all", false)
	require.NoError(t, err)
	e.clock.Set(ts("2026-06-01T13:20:30Z"))
	e.tick(t)
	allRuns := func() (n int) {
		for _, ref := range e.refs(t) {
			if ref[:6] == "c-all@" {
				n++
			}
		}
		return n
	}
	require.Equal(t, 3, allRuns())
	changed, err := e.svc.SetEnabled(e.ctx, "c-all", true)
	require.NoError(t, err)
	require.True(t, changed)
	// 13:05, 13:10 and 13:15 are late (all: at most max_catchup 3 of them), 13:20 is on time.
	require.Equal(t, 4, e.tick(t).Started)
	require.Equal(t, 7, allRuns())
}

func TestOverlapPolicies(t *testing.T) {
	t.Parallel()
	e := setup(t, ts("2026-06-01T11:59:30Z"))
	for _, p := range []string{"allow", "skip", "cancel_previous", "queue"} {
		e.create(t, "kind: schedule\nname: o-"+p+"\nworkflow: report\ncron: '* * * * *'\noverlap: "+p+"\n")
	}
	ref := func(name, at string) string { return name + "@2026-06-01T" + at + "Z" }
	e.clock.Set(ts("2026-06-01T12:00:05Z"))
	require.Equal(t, 4, e.tick(t).Started)
	e.clock.Set(ts("2026-06-01T12:01:05Z"))
	require.Equal(t, 2, e.tick(t).Started) // allow and cancel_previous

	require.Equal(t, "running", e.runStatus(t, ref("o-allow", "12:00:00")))
	require.Equal(t, "running", e.runStatus(t, ref("o-allow", "12:01:00")))
	require.Equal(t, "cancelled", e.runStatus(t, ref("o-cancel_previous", "12:00:00")))
	require.Equal(t, "running", e.runStatus(t, ref("o-cancel_previous", "12:01:00")))

	hist, err := e.svc.History(e.ctx, "o-skip", 10)
	require.NoError(t, err)
	require.Equal(t, schedule.FireSkipped, hist[0].Status)
	hist, err = e.svc.History(e.ctx, "o-queue", 10)
	require.NoError(t, err)
	require.Equal(t, schedule.FireQueued, hist[0].Status)

	// The queued fire waits while the previous run goes on...
	e.clock.Set(ts("2026-06-01T12:01:20Z"))
	require.Equal(t, 0, e.tick(t).Started)
	// ...and starts at the first tick after it finished.
	e.cancel(t, ref("o-queue", "12:00:00"))
	e.cancel(t, ref("o-skip", "12:00:00"))
	e.clock.Set(ts("2026-06-01T12:01:21Z"))
	require.Equal(t, 1, e.tick(t).Started)
	require.Equal(t, "running", e.runStatus(t, ref("o-queue", "12:01:00")))
	// skip starts again once the previous run is over.
	e.clock.Set(ts("2026-06-01T12:02:05Z"))
	e.tick(t)
	require.Equal(t, "running", e.runStatus(t, ref("o-skip", "12:02:00")))
}

func TestBackfill(t *testing.T) {
	t.Parallel()
	e := setup(t, ts("2026-06-02T00:00:00Z"))
	e.create(t, "kind: schedule\nname: hourly\nworkflow: report\ncron: '@hourly'\ninput: {at: '{{ .schedule.fire_time }}'}\n")
	from, to := ts("2026-06-01T10:00:00Z"), ts("2026-06-01T14:00:00Z")
	dry, err := e.svc.Backfill(e.ctx, "hourly", from, to, true)
	require.NoError(t, err)
	require.Len(t, dry, 5)
	require.Equal(t, from, dry[0].FireTime.UTC())
	require.Empty(t, e.refs(t), "a dry run starts nothing")

	real, err := e.svc.Backfill(e.ctx, "hourly", from, to, false)
	require.NoError(t, err)
	require.Len(t, real, 5)
	for _, b := range real {
		require.NotNil(t, b.RunID)
	}
	require.Len(t, e.refs(t), 5)
	again, err := e.svc.Backfill(e.ctx, "hourly", from.Add(-time.Hour), to, false)
	require.NoError(t, err)
	require.Len(t, again, 6)
	require.Len(t, e.refs(t), 6, "fires already recorded are not started twice")

	_, err = e.svc.Backfill(e.ctx, "hourly", to, from, true)
	var ve *engine.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "to", ve.Problems[0].Field)
	_, err = e.svc.Backfill(e.ctx, "hourly", ts("2025-01-01T00:00:00Z"), to, true)
	require.ErrorAs(t, err, &ve, "more than 1000 fires")
}

func TestValidationNamesTheField(t *testing.T) {
	t.Parallel()
	e := setup(t, ts("2026-06-01T00:00:00Z"))
	cases := map[string]string{
		"cron":        "cron: '61 * * * *'",
		"time_zone":   "cron: '@daily'\ntime_zone: Nowhere/Land",
		"input":       "cron: '@daily'\ninput: {a: '{{ .schedule.nope'}",
		"end_at":      "cron: '@daily'\nstart_at: '2026-02-01T00:00:00Z'\nend_at: '2026-01-01T00:00:00Z'",
		"workflow":    "cron: '@daily'\nworkflow: nope",
		"overlap":     "cron: '@daily'\noverlap: sometimes",
		"jitter":      "cron: '@daily'\njitter: 3h",
		"max_catchup": "cron: '@daily'\nmax_catchup: 0",
	}
	for field, body := range cases {
		doc := "kind: schedule\nname: bad\n" + body + "\n"
		if field != "workflow" {
			doc += "workflow: report\n"
		}
		spec, err := engine.ParseSpec([]byte(doc))
		require.NoError(t, err, field)
		_, err = e.svc.Create(e.ctx, spec.(*engine.ScheduleSpec))
		var ve *engine.ValidationError
		require.ErrorAs(t, err, &ve, field)
		require.Equal(t, field, ve.Problems[0].Field, "%s: %v", field, err)
	}
	// A missing key in the template is caught when the schedule is saved.
	spec, err := engine.ParseSpec([]byte("kind: schedule\nname: bad\nworkflow: report\ncron: '@daily'\ninput: {a: '{{ .schedule.nope }}'}\n"))
	require.NoError(t, err)
	_, err = e.svc.Create(e.ctx, spec.(*engine.ScheduleSpec))
	require.ErrorContains(t, err, "input.a")
}

func TestPreviewAndJitter(t *testing.T) {
	t.Parallel()
	e := setup(t, ts("2026-03-07T12:00:00Z"))
	e.create(t, "kind: schedule\nname: nightly\nworkflow: report\ncron: 30 2 * * *\ntime_zone: America/New_York\njitter: 10m\n")
	p, err := e.svc.Preview(e.ctx, "nightly", 3)
	require.NoError(t, err)
	require.Len(t, p, 3)
	require.Equal(t, ts("2026-03-08T07:00:00Z"), p[0].FireTime.UTC())
	require.Equal(t, "America/New_York", p[0].FireTime.Location().String())
	require.Equal(t, ts("2026-03-09T06:30:00Z"), p[1].FireTime.UTC())
	for _, f := range p {
		require.False(t, f.Due.Before(f.FireTime))
		require.Less(t, f.Due.Sub(f.FireTime), 10*time.Minute)
	}
	// The fire starts at its due time (with jitter), not before.
	e.clock.Set(p[0].Due.Add(-time.Second))
	if p[0].Due.After(p[0].FireTime) {
		require.Equal(t, 0, e.tick(t).Started)
	}
	e.clock.Set(p[0].Due)
	require.Equal(t, 1, e.tick(t).Started)
	_, err = e.svc.Preview(e.ctx, "nightly", 0)
	require.ErrorIs(t, err, engine.ErrInvalid)
}
