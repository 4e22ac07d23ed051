package jobs_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/jobs"
)

// TestConnectionBudget runs 100 runs of a DAG whose steps render templates
// from upstream outputs with 200 workers on a pool of 8 connections, and
// samples pg_stat_activity meanwhile: every run succeeds (workers wait for
// connections, none needs one of its own) and the process never holds more
// connections than its pool allows.
func TestConnectionBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.New(t)
	const app, budget = "baton-budget-test", 8
	pool, err := db.Open(ctx, url, db.PoolOptions{MaxConns: budget, ApplicationName: app})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	executors := executor.NewRegistry(executor.Options{})
	t.Cleanup(executors.Close)
	eng := engine.New(pool, engine.Options{})
	_, err = eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "quick", Executor: "sim", Defaults: json.RawMessage(`{"min":"0s","max":"1ms"}`)})
	require.NoError(t, err)
	spec, err := engine.ParseSpec([]byte(`
name: budget
steps:
  - {name: a, type: quick, params: {output: {v: 'x{{ index .input "n" }}'}}}
  - {name: b, type: quick, depends_on: [a], params: {output: {v: '{{ .steps.a.output.v }}b'}}}
  - {name: c, type: quick, depends_on: [a], params: {output: {v: '{{ .steps.a.output.v }}c'}}}
  - {name: d, type: quick, depends_on: [b, c], params: {output: {v: '{{ .steps.b.output.v }}{{ .steps.c.output.v }}'}}}
`))
	require.NoError(t, err)
	_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
	require.NoError(t, err)

	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	watcher, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = watcher.Close(context.Background()) })

	ps := make([]engine.StartParams, 100)
	for i := range ps {
		ps[i] = engine.StartParams{Workflow: "budget", Input: json.RawMessage(`{"n":"` + string(rune('0'+i%10)) + `"}`)}
	}
	var ids []int64
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		ids, err = eng.StartRunsTx(ctx, tx, ps)
		return err
	}))
	startClient(t, pool, jobs.ClientOptions{Engine: eng, Executors: executors, Workers: 200})

	most := 0
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var held, left int
		require.NoError(t, watcher.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1),
			(SELECT count(*) FROM baton.runs WHERE id = ANY ($2) AND status NOT IN ('succeeded', 'failed', 'cancelled'))`,
			app, ids).Scan(&held, &left))
		most = max(most, held)
		if left == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "%d runs unfinished", left)
		time.Sleep(5 * time.Millisecond) // sampling interval
	}
	// River's notifier takes one pooled connection out of the pool for its
	// LISTEN (riverpgxv5 hijacks it), so the pool may open one more.
	require.LessOrEqual(t, most, budget+1, "connections held by the process")
	for i, id := range ids {
		run, err := eng.GetRun(ctx, id)
		require.NoError(t, err)
		require.Equal(t, engine.RunSucceeded, run.Status, "run %d", id)
		d := taskByStep(run, "d")
		n := string(rune('0' + i%10))
		require.JSONEq(t, `{"v":"x`+n+`bx`+n+`c"}`, string(d.Output))
	}
	t.Logf("most connections held: %d of %d (pool) + 1 (River's listener)", most, budget)
}
