package batch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/batch"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/testdb"
)

// sagaWorkflows adds task types undo (a quick sim) and broken (a sim
// failing every attempt: two attempts, 10 ms apart), and workflows saga
// (a -> b -> c; a and b compensate with undo, reading their own outputs
// and the input; c sleeps input.c_min and fails when input.fail is 1) and
// saga-broken (the same, but a's compensation is broken).
func sagaWorkflows(t *testing.T, h *harness) {
	t.Helper()
	ctx := context.Background()
	one := 1
	for _, tt := range []*engine.TaskTypeSpec{
		{Name: "undo", Executor: "sim"},
		{Name: "broken", Executor: "sim", MaxRetries: &one, Backoff: &engine.BackoffSpec{Base: "10ms", Max: "10ms"}},
	} {
		_, err := h.eng.ApplyTaskType(ctx, tt)
		require.NoError(t, err)
	}
	const steps = `
- name: a
  type: quick
  params: {min: 5ms, output: {charge: "ch-{{ .input.k }}"}}
  compensate:
    type: %s
    params: {min: 30ms, output: {refunded: "{{ .steps.a.output.charge }}"}, fail_rate: %s}
- name: b
  type: quick
  depends_on: [a]
  params: {min: 5ms, output: {booking: "bk-{{ .input.k }}"}}
  compensate:
    type: undo
    max_retries: 0
    params: {min: 30ms, output: {cancelled: "{{ .steps.b.output.booking }}", charge: "{{ .steps.a.output.charge }}", k: "{{ .input.k }}"}}
- name: c
  type: quick
  depends_on: [b]
  params: {min: "{{ .input.c_min }}", permanent_fail_rate: "{{ .input.fail }}"}
`
	for name, y := range map[string]string{
		"saga":        fmt.Sprintf(steps, "undo", "0"),
		"saga-broken": fmt.Sprintf(steps, "broken", "1"),
	} {
		spec, err := engine.ParseSpec([]byte("name: " + name + "\nsteps:" + y))
		require.NoError(t, err)
		_, _, err = h.eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
		require.NoError(t, err, name)
	}
}

// waitCompensated polls until no run of the batch is compensating.
func (h *harness) waitCompensated(t *testing.T, batchID int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		open := h.count(t, `SELECT count(*) FROM baton.batch_members m JOIN baton.runs r ON r.id = m.run_id
			WHERE m.batch_id = $1 AND (r.compensation IS NULL OR r.compensation = 'running')`, batchID)
		if open == 0 {
			return
		}
		require.True(t, time.Now().Before(deadline), "%d runs of batch %d still compensating (or not started)", open, batchID)
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRollbackCompensatesInReverseOrder: in a rollback batch of a -> b -> c
// runs where c fails in one member, the others are cancelled, and every
// member undoes b then a (the compensation tasks' events and times say
// so), with templates reading the steps' outputs and the input.
func TestRollbackCompensatesInReverseOrder(t *testing.T) {
	t.Parallel()
	h := setup(t)
	sagaWorkflows(t, h)
	ctx := context.Background()
	p, err := h.batches.Start(ctx, batch.Spec{OnMemberFailure: "rollback", Members: []batch.Member{
		{Workflow: "saga", Input: json.RawMessage(`{"k": 0, "fail": 0, "c_min": "30s"}`)},
		{Workflow: "saga", Input: json.RawMessage(`{"k": 1, "fail": 1, "c_min": "1s"}`)},
		{Workflow: "saga", Input: json.RawMessage(`{"k": 2, "fail": 0, "c_min": "30s"}`)},
	}}, "test")
	require.NoError(t, err)
	p = h.waitFinished(t, p.ID)
	require.Equal(t, "failed", p.Status)
	require.Equal(t, map[string]int{"failed": 1, "cancelled": 2}, p.Members)
	h.waitCompensated(t, p.ID)

	members, err := h.batches.Members(ctx, p.ID, -1, 10)
	require.NoError(t, err)
	for k, m := range members {
		run, err := h.eng.GetRun(ctx, m.RunID)
		require.NoError(t, err)
		require.Equal(t, "compensated", run.Compensation, "member %d", k)
		byStep := map[string]*engine.Task{}
		for _, task := range run.Tasks {
			byStep[task.Step] = task
		}
		require.Equal(t, engine.TaskSucceeded, byStep["a"].Status, "member %d", k)
		require.Equal(t, engine.TaskSucceeded, byStep["b"].Status, "member %d", k)
		ca, cb := byStep["compensate:a"], byStep["compensate:b"]
		require.NotNil(t, ca, "member %d", k)
		require.NotNil(t, cb, "member %d", k)
		require.Equal(t, "a", ca.Compensates)
		require.Equal(t, "b", cb.Compensates)
		require.Equal(t, engine.TaskSucceeded, ca.Status)
		require.Equal(t, engine.TaskSucceeded, cb.Status)
		// Reverse order: a's compensation was queued once b's had finished.
		require.Equal(t, []string{"compensate:b"}, ca.DependsOn)
		require.False(t, ca.QueuedAt.Before(*cb.FinishedAt), "member %d: compensate:a queued %s before compensate:b finished %s",
			k, ca.QueuedAt, cb.FinishedAt)
		// Templates read the steps' outputs and the input.
		require.JSONEq(t, fmt.Sprintf(`{"refunded": "ch-%d"}`, k), string(ca.Output))
		require.JSONEq(t, fmt.Sprintf(`{"cancelled": "bk-%d", "charge": "ch-%d", "k": %d}`, k, k, k), string(cb.Output))

		// The event log tells the same story, in order.
		var kinds []string
		rows, err := h.pool.Query(ctx, `SELECT e.kind || coalesce(':' || e.step_name, '') FROM baton.task_events e
			WHERE e.run_id = $1 AND (e.kind LIKE 'run_compensat%' OR e.step_name LIKE 'compensate:%')
			  AND e.kind <> 'task_started' ORDER BY e.id`, m.RunID)
		require.NoError(t, err)
		for rows.Next() {
			var kind string
			require.NoError(t, rows.Scan(&kind))
			kinds = append(kinds, kind)
		}
		require.NoError(t, rows.Err())
		require.Equal(t, []string{"run_compensating", "task_succeeded:compensate:b", "task_succeeded:compensate:a", "run_compensated"},
			kinds, "member %d", k)
		want := engine.RunCancelled
		if k == 1 {
			want = engine.RunFailed
		}
		require.Equal(t, want, run.Status, "member %d keeps its status", k)
	}
	// Progress counts the runs' own steps, not the compensations.
	p, err = h.batches.Get(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, 100.0, p.Percent)
	require.EqualValues(t, 9, p.TasksTotal)
}

// TestFailingCompensationEndsDead: a compensation that keeps failing is
// retried per its policy, then dead with a dead letter and the run flagged
// for attention; its run's compensation failed. Resubmitting it with
// params that work ends the compensation.
func TestFailingCompensationEndsDead(t *testing.T) {
	t.Parallel()
	h := setup(t)
	sagaWorkflows(t, h)
	ctx := context.Background()
	p, err := h.batches.Start(ctx, batch.Spec{OnMemberFailure: "rollback", Members: []batch.Member{
		{Workflow: "saga-broken", Input: json.RawMessage(`{"k": 7, "fail": 1, "c_min": "5ms"}`)},
	}}, "test")
	require.NoError(t, err)
	h.waitFinished(t, p.ID)
	h.waitCompensated(t, p.ID)
	members, err := h.batches.Members(ctx, p.ID, -1, 10)
	require.NoError(t, err)
	runID := members[0].RunID
	run, err := h.eng.GetRun(ctx, runID)
	require.NoError(t, err)
	require.Equal(t, "failed", run.Compensation)
	require.Contains(t, run.Attention, "compensate:a")
	var ca *engine.Task
	for _, task := range run.Tasks {
		if task.Step == "compensate:a" {
			ca = task
		}
	}
	require.NotNil(t, ca)
	require.Equal(t, engine.TaskDead, ca.Status)
	require.Equal(t, 2, ca.Attempts)
	require.Equal(t, 1, h.count(t, `SELECT count(*) FROM baton.dead_letters WHERE task_id = $1`, ca.ID))
	require.Equal(t, 1, h.count(t, `SELECT count(*) FROM baton.task_events WHERE task_id = $1 AND kind = 'task_attempt_failed'`, ca.ID))
	require.Equal(t, 1, h.count(t, `SELECT count(*) FROM baton.task_events WHERE run_id = $1 AND kind = 'run_compensation_failed'`, runID))

	// An operator fixes and resubmits it: the compensation completes.
	_, err = h.pool.Exec(ctx, `SELECT baton.resubmit_dead_letter(d.id, '{"fail_rate": 0}') FROM baton.dead_letters d WHERE d.task_id = $1`, ca.ID)
	require.NoError(t, err)
	deadline := time.Now().Add(30 * time.Second)
	for {
		run, err = h.eng.GetRun(ctx, runID)
		require.NoError(t, err)
		if run.Compensation == "compensated" {
			break
		}
		require.True(t, time.Now().Before(deadline), "compensation still %s", run.Compensation)
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(t, engine.RunFailed, run.Status)
	require.NotContains(t, run.Attention, "compensate:a")
}

// TestBadCompensateIsRefused: a compensate task is validated like a step:
// unknown task type, bad params for its executor, a template reading a
// step downstream of it, bad overrides.
func TestBadCompensateIsRefused(t *testing.T) {
	t.Parallel()
	pool := testdb.NewPool(t)
	executors := executor.NewRegistry(executor.Options{})
	t.Cleanup(executors.Close)
	eng := engine.New(pool, engine.Options{ValidateParams: func(name string, params json.RawMessage) error {
		ex, err := executors.Get(name)
		if err != nil {
			return err
		}
		return ex.Validate(params)
	}})
	ctx := context.Background()
	_, err := eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "quick", Executor: "sim"})
	require.NoError(t, err)
	spec, err := engine.ParseSpec([]byte(`name: bad-saga
steps:
- name: a
  type: quick
  compensate: {type: nope}
- name: b
  type: quick
  depends_on: [a]
  compensate: {type: quick, params: {min: soon, output: "{{ .steps.c.output }}"}, max_retries: 99, priority: 7}
- name: c
  type: quick
  depends_on: [b]
  compensate: {type: quick, params: {output: "{{ .steps.c.output.id }} {{ .nothing }}"}, timeout: forever}
`))
	require.NoError(t, err)
	_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
	require.ErrorIs(t, err, engine.ErrInvalid)
	var invalid *engine.ValidationError
	require.True(t, errors.As(err, &invalid), "%v", err)
	fields := map[string]string{}
	for _, p := range invalid.Problems {
		fields[p.Field] += p.Message + "; "
	}
	require.Contains(t, fields["steps[0].compensate.type"], `unknown task type "nope"`)
	require.Contains(t, fields["steps[1].compensate.params"], "min")
	require.Contains(t, fields["steps[1].compensate.params.output"], `step "c" is not upstream`)
	require.Contains(t, fields["steps[1].compensate.max_retries"], "between 0 and 25")
	require.Contains(t, fields["steps[1].compensate.priority"], "between 1")
	require.Contains(t, fields["steps[2].compensate.timeout"], "invalid duration")
	require.Contains(t, fields["steps[2].compensate.params.output"], `unknown field "nothing"`)
	require.NotContains(t, fields, "steps[2].compensate.params.output.c", "a compensation may read its own step's output")

	// Unknown fields in compensate are refused when parsing.
	_, err = engine.ParseSpec([]byte("name: x\nsteps:\n- {name: a, type: quick, compensate: {type: quick, depends_on: [a]}}\n"))
	require.True(t, errors.As(err, &invalid), "%v", err)
	require.Contains(t, invalid.Error(), "depends_on")
}

// TestReconcilerRepairsLostCompensation: a compensation whose River job
// vanished in a finished run is recorded dead by the reconciler, as any
// task of an unfinished run would be: dead letter, attention, and the run's
// compensation failed.
func TestReconcilerRepairsLostCompensation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := engine.New(testdb.NewPool(t), engine.Options{})
	_, err := eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "noop", Executor: "sleep"})
	require.NoError(t, err)
	spec, err := engine.ParseSpec([]byte("name: one\nsteps:\n  - {name: a, type: noop, params: {duration: 0s}, compensate: {type: noop, params: {duration: 0s}}}\n"))
	require.NoError(t, err)
	_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
	require.NoError(t, err)
	run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "one"})
	require.NoError(t, err)
	pool := eng.Pool()
	_, err = pool.Exec(ctx, `SELECT baton.tasks_succeed(ARRAY[t.id], ARRAY[1], ARRAY['{}'::jsonb], ARRAY[NULL::jsonb],
		ARRAY[now()], ARRAY[1::bigint], 'test') FROM baton.run_tasks t WHERE t.run_id = $1`, run.ID)
	require.NoError(t, err)
	var added int
	require.NoError(t, pool.QueryRow(ctx, `SELECT baton._compensate($1, 'test')`, run.ID).Scan(&added))
	require.Equal(t, 1, added)
	_, err = pool.Exec(ctx, `DELETE FROM river_job WHERE id = (SELECT river_job_id FROM baton.run_tasks
		WHERE run_id = $1 AND step_name = 'compensate:a')`, run.ID)
	require.NoError(t, err)

	n, err := eng.ReconcileTasks(ctx, 0, 1000)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	got, err := eng.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, engine.RunSucceeded, got.Status)
	require.Equal(t, "failed", got.Compensation)
	require.Contains(t, got.Attention, "compensate:a")
	var letters int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM baton.dead_letters WHERE run_id = $1`, run.ID).Scan(&letters))
	require.Equal(t, 1, letters)
	n, err = eng.ReconcileTasks(ctx, 0, 1000)
	require.NoError(t, err)
	require.Zero(t, n)
}
