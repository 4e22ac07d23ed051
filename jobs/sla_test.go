package jobs_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/jobs"
)

// TestSLAsUnderLoad is close to the acceptance check "ten concurrent
// workflows of mixed priorities with SLAs on a loaded worker: every
// high-priority run finishes within its SLA". One River client with 2
// workers has 60 background (priority 4) runs of 100 ms queued; ten runs of
// priority 1 and 2 with SLAs of 3 s and 5 s start behind them. The periodic
// SLA check (every second here) settles each of them, and escalates a
// priority-4 run whose workflow's recent runs took 30 s against its 20 s SLA.
func TestSLAsUnderLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	eng := engine.New(pool, engine.Options{})
	executors := executor.NewRegistry(executor.Options{})
	t.Cleanup(executors.Close)
	startClient(t, pool, jobs.ClientOptions{Engine: eng, Executors: executors, Workers: 2, SLAEvery: time.Second})

	_, err := eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "work", Executor: "sleep", Defaults: json.RawMessage(`{"duration":"100ms"}`)})
	require.NoError(t, err)
	apply := func(doc string) {
		t.Helper()
		spec, err := engine.ParseSpec([]byte(doc))
		require.NoError(t, err)
		_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
		require.NoError(t, err)
	}
	apply(`{"name": "bulk", "priority": 4, "steps": [{"name": "a", "type": "work"}]}`)
	apply(`{"name": "urgent", "priority": 1, "sla": "3s", "steps": [{"name": "a", "type": "work"}]}`)
	apply(`{"name": "standard", "priority": 2, "sla": "5s", "steps": [{"name": "a", "type": "work"}]}`)
	// "late" sleeps as long as its input says: the run checked for
	// escalation lasts 5 s, so a check sees it unfinished even when the
	// machine is slow (its history runs take no time).
	apply(`{"name": "late", "priority": 4, "sla": "20s", "steps": [{"name": "a", "type": "work", "params": {"duration": "{{ .input.d }}"}}]}`)

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			require.True(t, time.Now().Before(deadline), "timed out waiting for %s", what)
			time.Sleep(50 * time.Millisecond) // polling interval, not a wait for the work itself
		}
	}
	count := func(query string, args ...any) (n int) {
		require.NoError(t, pool.QueryRow(ctx, query, args...).Scan(&n))
		return n
	}

	// History: three runs of "late" that took 30 s each.
	for range 3 {
		_, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "late", Input: json.RawMessage(`{"d": "0s"}`)})
		require.NoError(t, err)
	}
	waitFor("the history runs", func() bool {
		return count(`SELECT count(*) FROM baton.runs WHERE workflow_name = 'late' AND status = 'succeeded'`) == 3
	})
	_, err = pool.Exec(ctx, `UPDATE baton.run_tasks SET started_at = finished_at - interval '30 seconds'
		WHERE run_id IN (SELECT id FROM baton.runs WHERE workflow_name = 'late')`)
	require.NoError(t, err)

	for range 60 {
		_, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "bulk"})
		require.NoError(t, err)
	}
	late, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "late", Input: json.RawMessage(`{"d": "5s"}`)})
	require.NoError(t, err)
	var high []int64
	for i := range 10 {
		wf := "urgent"
		if i%2 == 1 {
			wf = "standard"
		}
		run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: wf})
		require.NoError(t, err)
		high = append(high, run.ID)
	}

	waitFor("the SLA check to settle the ten runs", func() bool {
		return count(`SELECT count(*) FROM baton.runs WHERE id = ANY($1) AND sla_state IN ('met', 'violated')`, high) == 10
	})
	met := count(`SELECT count(*) FROM baton.runs WHERE id = ANY($1) AND sla_state = 'met' AND finished_at <= sla_deadline`, high)
	bulkLeft := count(`SELECT count(*) FROM baton.runs WHERE workflow_name = 'bulk' AND status <> 'succeeded'`)
	t.Logf("high-priority runs within their SLA: %d of %d (background runs still unfinished when they were settled: %d)", met, len(high), bulkLeft)
	require.Equal(t, 10, met)
	require.Zero(t, count(`SELECT count(*) FROM baton.task_events WHERE run_id = ANY($1) AND kind = 'sla_violated'`, high))

	waitFor("the late run's escalation", func() bool {
		return count(`SELECT count(*) FROM baton.task_events WHERE run_id = $1 AND kind = 'sla_at_risk'`, late.ID) > 0
	})
	require.Less(t, count(`SELECT min((data->>'to')::int) FROM baton.task_events WHERE run_id = $1 AND kind = 'sla_at_risk'`, late.ID), 4)
}
