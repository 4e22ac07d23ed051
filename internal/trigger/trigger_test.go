package trigger_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/internal/trigger"
	"github.com/baton-run/baton/jobs"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"))
}

type harness struct {
	pool *pgxpool.Pool
	eng  *engine.Engine
	svc  *trigger.Service
}

// setup gives a fresh database with a noop task type, the workflows
// "on-order" and "follow-up" (one noop step each) and a trigger service;
// with workers, a River client with Baton's workers (and the trigger jobs)
// runs until the test ends. funcs are Go task functions.
func setup(t *testing.T, workers bool, funcs map[string]executor.GoFunc) *harness {
	t.Helper()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	eng := engine.New(pool, engine.Options{})
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	svc, err := trigger.New(pool, eng, trigger.Options{SecretKey: key})
	require.NoError(t, err)
	for _, tt := range []engine.TaskTypeSpec{
		{Name: "noop", Executor: "sleep", Defaults: json.RawMessage(`{"duration":"0s"}`)},
		{Name: "fn", Executor: "go"},
	} {
		_, err := eng.ApplyTaskType(ctx, &tt)
		require.NoError(t, err)
	}
	h := &harness{pool: pool, eng: eng, svc: svc}
	h.apply(t, "name: on-order\nsteps: [{name: work, type: noop}]\n")
	h.apply(t, "name: follow-up\nsteps: [{name: work, type: noop}]\n")
	if workers {
		executors := executor.NewRegistry(executor.Options{})
		t.Cleanup(executors.Close)
		for name, fn := range funcs {
			require.NoError(t, executors.RegisterFunc(name, fn))
		}
		client, err := jobs.NewClient(pool, jobs.ClientOptions{Engine: eng, Executors: executors, Workers: 10, Triggers: svc})
		require.NoError(t, err)
		require.NoError(t, client.Start(ctx))
		t.Cleanup(func() {
			stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, client.Stop(stopCtx))
		})
	}
	return h
}

func (h *harness) apply(t *testing.T, def string) {
	t.Helper()
	spec, err := engine.ParseSpec([]byte(def))
	require.NoError(t, err)
	_, _, err = h.eng.ApplyWorkflow(context.Background(), spec.(*engine.WorkflowSpec))
	require.NoError(t, err)
}

// eventRuns returns the ids of the runs of workflow started by events.
func (h *harness) eventRuns(t *testing.T, workflow string) []int64 {
	t.Helper()
	rows, err := h.pool.Query(context.Background(),
		`SELECT id FROM baton.runs WHERE trigger = 'event' AND workflow_name = $1 ORDER BY id`, workflow)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	return ids
}

// waitFor polls cond until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not a wait for work
	}
}

func ptr[T any](v T) *T { return &v }

// TestDuplicatesStartOneRunAndReplayStartsAgain emits one event twice with
// the same dedup key: the second returns the first event and starts
// nothing. A dry-run replay of the range lists the run without starting
// it; the replay then starts it again, with the same rendered input.
func TestDuplicatesStartOneRunAndReplayStartsAgain(t *testing.T) {
	t.Parallel()
	h := setup(t, false, nil)
	ctx := context.Background()
	_, created, err := h.svc.Put(ctx, trigger.Params{
		Name: "orders", EventType: "order.created", Workflow: "on-order",
		Condition:     `$.total > 100 && $.currency == "EUR"`,
		InputTemplate: json.RawMessage(`{"order": "{{ .payload.id }}", "total": "{{ .payload.total }}", "type": "{{ .event.type }}"}`),
	}, false)
	require.NoError(t, err)
	require.True(t, created)

	before := time.Now().Add(-time.Second)
	first, err := h.svc.Emit(ctx, trigger.EventParams{Type: "order.created", DedupKey: "order-7",
		Payload: json.RawMessage(`{"id": 7, "total": 250, "currency": "EUR"}`)})
	require.NoError(t, err)
	require.False(t, first.Duplicate)
	require.Len(t, first.Runs, 1)
	require.JSONEq(t, `{"order": 7, "total": 250, "type": "order.created"}`, string(first.Runs[0].Input))

	second, err := h.svc.Emit(ctx, trigger.EventParams{Type: "order.created", DedupKey: "order-7",
		Payload: json.RawMessage(`{"id": 7, "total": 999, "currency": "EUR"}`)})
	require.NoError(t, err)
	require.True(t, second.Duplicate)
	require.Equal(t, first.Event.ID, second.Event.ID)
	require.JSONEq(t, `{"id": 7, "total": 250, "currency": "EUR"}`, string(second.Event.Payload))
	require.Empty(t, second.Runs)

	// The condition does not hold: stored, nothing started.
	low, err := h.svc.Emit(ctx, trigger.EventParams{Type: "order.created", Payload: json.RawMessage(`{"id": 8, "total": 5, "currency": "EUR"}`)})
	require.NoError(t, err)
	require.Empty(t, low.Runs)
	runs := h.eventRuns(t, "on-order")
	require.Equal(t, []int64{first.Runs[0].RunID}, runs)
	run, err := h.eng.GetRun(ctx, runs[0])
	require.NoError(t, err)
	require.Equal(t, "event", run.Trigger)

	after := time.Now().Add(time.Second)
	dry, err := h.svc.Replay(ctx, trigger.ReplayParams{From: before, To: after, DryRun: true})
	require.NoError(t, err)
	require.Equal(t, 2, dry.Events)
	require.Len(t, dry.Runs, 1)
	require.Zero(t, dry.Runs[0].RunID)
	require.Equal(t, "orders", dry.Runs[0].Trigger)
	require.Len(t, h.eventRuns(t, "on-order"), 1, "a dry run starts nothing")

	replay, err := h.svc.Replay(ctx, trigger.ReplayParams{From: before, To: after, Type: "order.created"})
	require.NoError(t, err)
	require.Len(t, replay.Runs, 1)
	require.NotZero(t, replay.Runs[0].RunID)
	require.JSONEq(t, string(first.Runs[0].Input), string(replay.Runs[0].Input))
	require.Len(t, h.eventRuns(t, "on-order"), 2)

	_, err = h.svc.Replay(ctx, trigger.ReplayParams{From: after, To: before})
	var invalid *engine.ValidationError
	require.ErrorAs(t, err, &invalid)
	require.Equal(t, "to", invalid.Problems[0].Field)
}

// TestEmitEventSQLStartsRunsOnCommit emits through baton.emit_event: a
// rolled-back transaction stores and starts nothing, a committed one starts
// the trigger's run (through the job inserted with the event), which
// succeeds; the same dedup key again starts nothing.
func TestEmitEventSQLStartsRunsOnCommit(t *testing.T) {
	t.Parallel()
	h := setup(t, true, nil)
	ctx := context.Background()
	_, _, err := h.svc.Put(ctx, trigger.Params{Name: "sql-orders", EventType: "order.paid", Workflow: "on-order",
		InputTemplate: json.RawMessage(`{"order": "{{ .payload.id }}"}`)}, false)
	require.NoError(t, err)

	tx, err := h.pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `SELECT baton.emit_event('order.paid', '{"id": 1}', 'k1')`)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))

	var id int64
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT baton.emit_event('order.paid', '{"id": 2}', 'k2')`).Scan(&id))
	waitFor(t, 10*time.Second, "run started", func() bool { return len(h.eventRuns(t, "on-order")) == 1 })
	var dup int64
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT baton.emit_event('order.paid', '{"id": 3}', 'k2')`).Scan(&dup))
	require.Equal(t, id, dup)

	runID := h.eventRuns(t, "on-order")[0]
	waitFor(t, 10*time.Second, "run finished", func() bool {
		run, err := h.eng.GetRun(ctx, runID)
		require.NoError(t, err)
		return run.Status == engine.RunSucceeded
	})
	run, err := h.eng.GetRun(ctx, runID)
	require.NoError(t, err)
	require.JSONEq(t, `{"order": 2}`, string(run.Input))
	var events int
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM baton.events`).Scan(&events))
	require.Equal(t, 1, events, "the rolled-back event and the duplicate are not stored")
	require.Len(t, h.eventRuns(t, "on-order"), 1)

	_, err = h.pool.Exec(ctx, `SELECT baton.emit_event('bad type!', '{}')`)
	require.ErrorContains(t, err, "type:")
	_, err = h.pool.Exec(ctx, `SELECT baton.emit_event('x', '[1]')`)
	require.ErrorContains(t, err, "payload:")
}

// TestRunEndTriggersConditionalFollowUp chains workflows: a trigger on
// run.succeeded whose condition reads the finished run's workflow and a
// step's output starts "follow-up" after a "checked" run whose check step
// output ok = true, and not after one whose output is ok = false.
func TestRunEndTriggersConditionalFollowUp(t *testing.T) {
	t.Parallel()
	h := setup(t, true, map[string]executor.GoFunc{
		"check": func(_ context.Context, params json.RawMessage) (any, error) {
			var args struct {
				OK bool `json:"ok"`
			}
			if err := json.Unmarshal(params, &args); err != nil {
				return nil, err
			}
			return map[string]any{"ok": args.OK}, nil
		},
	})
	ctx := context.Background()
	h.apply(t, "name: checked\nsteps: [{name: check, type: fn, params: {function: check, args: {ok: '{{ .input.ok }}'}}}]\n")
	_, _, err := h.svc.Put(ctx, trigger.Params{Name: "chain", EventType: "run.succeeded", Workflow: "follow-up",
		Condition:     `$.workflow == "checked" && $.output.check.ok == true`,
		InputTemplate: json.RawMessage(`{"after_run": "{{ .payload.run_id }}", "status": "{{ .payload.status }}"}`),
	}, false)
	require.NoError(t, err)

	okRun, _, err := h.eng.StartRun(ctx, engine.StartParams{Workflow: "checked", Input: json.RawMessage(`{"ok": true}`)})
	require.NoError(t, err)
	notRun, _, err := h.eng.StartRun(ctx, engine.StartParams{Workflow: "checked", Input: json.RawMessage(`{"ok": false}`)})
	require.NoError(t, err)

	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		var dump string
		_ = h.pool.QueryRow(ctx, `SELECT coalesce(json_agg(x), '[]')::text FROM (SELECT id, workflow_name, status, error FROM baton.runs) x`).Scan(&dump)
		t.Log("runs", dump)
		_ = h.pool.QueryRow(ctx, `SELECT coalesce(json_agg(x), '[]')::text FROM (SELECT id, type, payload FROM baton.events) x`).Scan(&dump)
		t.Log("events", dump)
		_ = h.pool.QueryRow(ctx, `SELECT coalesce(json_agg(x), '[]')::text FROM (SELECT * FROM baton.trigger_cursors) x`).Scan(&dump)
		t.Log("cursors", dump)
		_ = h.pool.QueryRow(ctx, `SELECT coalesce(json_agg(x), '[]')::text FROM (SELECT kind, state, errors FROM river_job WHERE kind <> 'baton_task') x`).Scan(&dump)
		t.Log("jobs", dump)
	})
	waitFor(t, 15*time.Second, "follow-up started", func() bool { return len(h.eventRuns(t, "follow-up")) >= 1 })
	// Both run-end events are stored before the follow-up exists (one
	// batch); wait until the second one is, then check nothing else started.
	waitFor(t, 15*time.Second, "both run ends stored", func() bool {
		var n int
		require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM baton.events WHERE type = 'run.succeeded'
			AND (payload ->> 'run_id')::bigint = ANY ($1)`, []int64{okRun.ID, notRun.ID}).Scan(&n))
		return n == 2
	})
	follow := h.eventRuns(t, "follow-up")
	require.Len(t, follow, 1)
	run, err := h.eng.GetRun(ctx, follow[0])
	require.NoError(t, err)
	require.JSONEq(t, `{"after_run": `+jsonInt(okRun.ID)+`, "status": "succeeded"}`, string(run.Input))
}

func jsonInt(v int64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestTriggerValidation refuses bad triggers naming the field.
func TestTriggerValidation(t *testing.T) {
	t.Parallel()
	h := setup(t, false, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		p     trigger.Params
		field string
	}{
		{trigger.Params{Name: "Bad", EventType: "a", Workflow: "on-order"}, "name"},
		{trigger.Params{Name: "t", EventType: "a b", Workflow: "on-order"}, "event_type"},
		{trigger.Params{Name: "t", EventType: "a", Workflow: "nope"}, "workflow"},
		{trigger.Params{Name: "t", EventType: "a", Workflow: "on-order", Condition: "$.a =="}, "condition"},
		{trigger.Params{Name: "t", EventType: "a", Workflow: "on-order", Condition: "$.a"}, "condition"},
		{trigger.Params{Name: "t", EventType: "a", Workflow: "on-order", InputTemplate: json.RawMessage(`[1]`)}, "input_template"},
		{trigger.Params{Name: "t", EventType: "a", Workflow: "on-order", DedupWindow: ptr(-time.Second)}, "dedup_window"},
		{trigger.Params{Name: "t", EventType: "a", Workflow: "on-order", Secret: ptr("short")}, "secret"},
	} {
		_, _, err := h.svc.Put(ctx, tc.p, false)
		var invalid *engine.ValidationError
		require.ErrorAs(t, err, &invalid, "%+v", tc.p)
		require.Equal(t, tc.field, invalid.Problems[0].Field, "%+v: %v", tc.p, err)
	}
	_, err := h.svc.Emit(ctx, trigger.EventParams{Type: "x", Payload: json.RawMessage(`"str"`)})
	var invalid *engine.ValidationError
	require.ErrorAs(t, err, &invalid)
	require.Equal(t, "payload", invalid.Problems[0].Field)
	_, err = h.svc.Emit(ctx, trigger.EventParams{Type: "no spaces", Payload: json.RawMessage(`{}`)})
	require.ErrorAs(t, err, &invalid)
	require.Equal(t, "type", invalid.Problems[0].Field)
}

// TestEventPartitions checks that baton.events is partitioned by day from
// the migration on, that maintenance is idempotent and refuses bad
// arguments, and that events land in their day's partition.
func TestEventPartitions(t *testing.T) {
	t.Parallel()
	h := setup(t, false, nil)
	ctx := context.Background()
	parts := func() int {
		var n int
		require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'baton.events'::regclass AND c.relname ~ '^events_p[0-9]{8}$'`).Scan(&n))
		return n
	}
	require.Equal(t, 9, parts(), "yesterday to 7 days ahead")
	n, err := h.svc.MaintainPartitions(ctx, 7, 90*24*time.Hour)
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = h.svc.MaintainPartitions(ctx, 9, 90*24*time.Hour)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	_, err = h.svc.MaintainPartitions(ctx, 91, time.Hour)
	var invalid *engine.ValidationError
	require.ErrorAs(t, err, &invalid)
	require.Equal(t, "days_ahead", invalid.Problems[0].Field)
	res, err := h.svc.Emit(ctx, trigger.EventParams{Type: "p.q", Payload: json.RawMessage(`{}`)})
	require.NoError(t, err)
	var part, want string
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT tableoid::regclass::text, 'baton.events_p' || to_char(time, 'YYYYMMDD')
		FROM baton.events WHERE id = $1`, res.Event.ID).Scan(&part, &want))
	require.Equal(t, want, part)
}
