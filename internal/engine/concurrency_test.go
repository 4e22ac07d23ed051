package engine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
)

func TestConcurrencyRulesAreValidated(t *testing.T) {
	t.Parallel()
	spec, err := engine.ParseSpec([]byte(`
name: limited
concurrency:
  - {limit: 0}
  - {key: "{{ .steps.a.output }}", limit: 1}
  - {key: "{{ .input.customer ", limit: 1}
steps:
  - name: a
    type: noop
    concurrency:
      - {key: "   ", limit: 3}
`))
	require.NoError(t, err)
	err = spec.(*engine.WorkflowSpec).Validate(nil, nil)
	var verr *engine.ValidationError
	require.ErrorAs(t, err, &verr)
	fields := map[string]bool{}
	for _, p := range verr.Problems {
		fields[p.Field] = true
	}
	for _, want := range []string{"concurrency[0].limit", "concurrency[1].key", "concurrency[2].key", "steps[0].concurrency[0].key"} {
		require.True(t, fields[want], "want a problem on %s, got %v", want, verr.Problems)
	}

	tt := &engine.TaskTypeSpec{Name: "t", Executor: "sleep", ConcurrencyLimit: new(int)}
	require.ErrorContains(t, tt.Validate(nil), "concurrency_limit")
}

// TestRunTasksCarryTheirConcurrencyRules: a task's job carries the
// workflow's rules, then its step's, then its task type's; tasks without
// any carry none.
func TestRunTasksCarryTheirConcurrencyRules(t *testing.T) {
	t.Parallel()
	eng, pool, ctx := setupWithPool(t)
	limit := 3
	_, err := eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "capped", Executor: "sleep", ConcurrencyLimit: &limit})
	require.NoError(t, err)
	applyWorkflow(t, eng, `
name: rules
concurrency:
  - {limit: 10}
  - {key: "{{ .input.customer }}", limit: 2}
steps:
  - {name: plain, type: noop}
  - name: special
    type: capped
    concurrency:
      - {key: stripe, limit: 1}
`)
	applyWorkflow(t, eng, "name: free\nsteps:\n  - {name: x, type: noop}\n")

	run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "rules", Input: json.RawMessage(`{"customer":"acme"}`)})
	require.NoError(t, err)
	free, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "free"})
	require.NoError(t, err)

	argsOf := func(runID int64, step string) engine.TaskArgs {
		var taskID int64
		require.NoError(t, pool.QueryRow(ctx, `SELECT t.id FROM river_job j JOIN baton.run_tasks t ON t.river_job_id = j.id
			WHERE t.run_id = $1 AND t.step_name = $2`, runID, step).Scan(&taskID))
		defs, err := eng.TaskDefinitions(ctx, []int64{taskID})
		require.NoError(t, err)
		require.Contains(t, defs, taskID)
		return defs[taskID].Args
	}
	require.Equal(t, []engine.TaskConcurrency{
		{Key: "workflow:rules", Limit: 10},
		{Key: "{{ .input.customer }}", Limit: 2, Template: true},
	}, argsOf(run.ID, "plain").Concurrency)
	require.Equal(t, []engine.TaskConcurrency{
		{Key: "workflow:rules", Limit: 10},
		{Key: "{{ .input.customer }}", Limit: 2, Template: true},
		{Key: "key:stripe", Limit: 1},
		{Key: "task_type:capped", Limit: 3},
	}, argsOf(run.ID, "special").Concurrency)
	require.Nil(t, argsOf(free.ID, "x").Concurrency)

	keys, limits, err := engine.ConcurrencyKeys(ctx, argsOf(run.ID, "special").Concurrency,
		engine.TemplateData{Input: map[string]any{"customer": "acme"}})
	require.NoError(t, err)
	require.Equal(t, []string{"workflow:rules", "key:acme", "key:stripe", "task_type:capped"}, keys)
	require.Equal(t, []int32{10, 2, 1, 3}, limits)
}

// TestConcurrencyLeases: leases are all-or-nothing, a task's own lease
// does not count against it, and an expired lease frees its slot.
func TestConcurrencyLeases(t *testing.T) {
	t.Parallel()
	eng, pool, ctx := setupWithPool(t)
	acquire := func(task int64, keys []string, limits []int32, ttl time.Duration) (bool, string) {
		ok, blocked, err := eng.AcquireConcurrency(ctx, task, "n1", keys, limits, ttl)
		require.NoError(t, err)
		return ok, blocked
	}
	ok, _ := acquire(1, []string{"key:a", "key:b"}, []int32{1, 2}, time.Minute)
	require.True(t, ok)
	ok, blocked := acquire(2, []string{"key:b", "key:a"}, []int32{2, 1}, time.Minute)
	require.False(t, ok)
	require.Equal(t, "key:a", blocked)
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM baton.concurrency_leases WHERE task_id = 2`).Scan(&n))
	require.Zero(t, n, "a refused task must hold no lease")

	ok, _ = acquire(1, []string{"key:a", "key:b"}, []int32{1, 2}, time.Minute) // delivered again
	require.True(t, ok)
	ok, _ = acquire(3, []string{"key:b"}, []int32{2}, time.Minute)
	require.True(t, ok)

	groups, err := eng.ListConcurrency(ctx)
	require.NoError(t, err)
	require.Len(t, groups, 2)
	require.Equal(t, "key:b", groups[1].Key)
	require.Equal(t, 2, groups[1].Running)

	require.NoError(t, eng.ReleaseConcurrency(ctx, 1))
	// A lease of zero length has expired by the next transaction: key:a
	// frees without a release.
	ok, _ = acquire(2, []string{"key:b", "key:a"}, []int32{2, 1}, 0)
	require.True(t, ok)
	ok, _ = acquire(4, []string{"key:a"}, []int32{1}, time.Minute)
	require.True(t, ok)
	_, _, err = eng.AcquireConcurrency(context.Background(), 5, "n1", []string{"key:a"}, []int32{1, 2}, time.Minute)
	require.ErrorIs(t, err, engine.ErrInvalid)
}

// TestUnreadableTaskDefinitionConcernsItsTaskAlone: a task whose stored
// options cannot be decoded gets an error of its own; the tasks read with it
// are read as usual.
func TestUnreadableTaskDefinitionConcernsItsTaskAlone(t *testing.T) {
	t.Parallel()
	eng, pool, ctx := setupWithPool(t)
	applyWorkflow(t, eng, "name: two\nsteps:\n  - {name: a, type: noop}\n  - {name: b, type: noop}\n")
	run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "two"})
	require.NoError(t, err)
	var bad, good int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT id FROM baton.run_tasks WHERE run_id = $1 AND step_name = 'a'),
		(SELECT id FROM baton.run_tasks WHERE run_id = $1 AND step_name = 'b')`, run.ID).Scan(&bad, &good))
	_, err = pool.Exec(ctx, `UPDATE baton.run_tasks SET concurrency = '"not a list"' WHERE id = $1`, bad)
	require.NoError(t, err)

	defs, err := eng.TaskDefinitions(ctx, []int64{bad, good})
	require.NoError(t, err)
	require.ErrorContains(t, defs[bad].Err, "decode definition of task")
	require.NoError(t, defs[good].Err)
	require.Equal(t, "b", defs[good].Args.Step)
}
