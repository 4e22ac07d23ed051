package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/testdb"
)

// BenchmarkDAGVersusRiver is the DAG half of BenchmarkBatonVersusRiver
// alone, on a fresh database, for quick comparisons: BATON_BENCH_ROUNDS
// rounds (default 3) of BATON_BENCH_DAG_TASKS raw River no-op jobs, then
// as many tasks in runs of the release pipeline with no-op steps, same
// workers, pool and database; tasks per second and their ratio.
func BenchmarkDAGVersusRiver(b *testing.B) {
	n := envInt("BATON_BENCH_DAG_TASKS", 22000)
	rounds := envInt("BATON_BENCH_ROUNDS", 3)
	ctx := context.Background()
	pool, err := db.Open(ctx, testdb.New(b), db.PoolOptions{
		MaxConns: int32(envIntOrZero("BATON_BENCH_MAX_CONNS", 0)), ApplicationName: "baton-bench-dag"})
	require.NoError(b, err)
	b.Cleanup(pool.Close)

	for i := 0; i < b.N; i++ {
		var ratios []float64
		fmt.Printf("\n%-6s %12s %14s %8s   %s\n", "round", "River jobs/s", "DAG tasks/s", "ratio", "machine CPU (Go part) and WAL per 1,000 River jobs, DAG tasks")
		for r := 1; r <= rounds; r++ {
			river := burnDownRiver(b, pool, n)
			dag := burnDownDAG(b, pool, n/22)
			ratios = append(ratios, dag.perSec/river.perSec)
			fmt.Printf("%-6d %12.0f %14.0f %7.1f%%   %s, %s\n", r, river.perSec, dag.perSec, 100*dag.perSec/river.perSec, river, dag)
		}
		fmt.Printf("median DAG / River: %.1f %%\n\n", 100*median(ratios))
		b.ReportMetric(100*median(ratios), "baton_dag_%_of_river")
	}
}

// BenchmarkLockWaits starts BATON_BENCH_LOCK_RUNS (default 10,000) runs of
// the release pipeline with no-op steps at once, burns them down with 1,000
// workers on a pool of db.DefaultMaxConns connections, and samples
// pg_stat_activity and pg_locks every 10 ms meanwhile. It fails on a
// deadlock, on a session recording outcomes waiting more than 100 ms for
// another transaction (row, transaction id or table locks: the lock order's
// business), or on the pool holding more connections than its budget. Waits
// to extend a table or index file (another writer adding a page: the
// server's storage, not the lock order) are printed, not judged.
func BenchmarkLockWaits(b *testing.B) {
	runs := envInt("BATON_BENCH_LOCK_RUNS", 10000)
	ctx := context.Background()
	url := testdb.New(b)
	const app = "baton-bench-locks"
	pool, err := db.Open(ctx, url, db.PoolOptions{ApplicationName: app})
	require.NoError(b, err)
	b.Cleanup(pool.Close)

	for i := 0; i < b.N; i++ {
		mon := startSampler(b, url, app)
		rate := burnDownDAG(b, pool, runs).perSec
		seen := mon.finish()
		fmt.Printf("\n%d release-pipeline runs (%d tasks): %.0f tasks/s; %d samples, %d with a lock wait; "+
			"longest lock wait %s (%q); a recording statement waited on another transaction at most %s (%s) "+
			"and to extend a file at most %s; deadlocks %d; most connections %d (budget %d)\n\n",
			runs, runs*22, rate, seen.Samples, seen.LockWaitSamples, seen.MaxLockWait.Round(time.Millisecond), seen.LongestWaiter,
			seen.MaxFlushLockWait.Round(time.Millisecond), seen.FlushWaitedFor, seen.MaxFlushExtendWait.Round(time.Millisecond),
			seen.Deadlocks, seen.MaxConns, pool.Config().MaxConns)
		b.ReportMetric(float64(seen.MaxFlushLockWait.Microseconds())/1000, "max_flush_lock_wait_ms")
		require.Zero(b, seen.Deadlocks, "deadlocks")
		require.Less(b, seen.MaxFlushLockWait, 100*time.Millisecond, "a recording statement waited on another transaction")
		require.LessOrEqual(b, seen.MaxConns, int(pool.Config().MaxConns), "connections above the pool budget")
	}
}

// seedDAGRuns seeds n finished runs of the no-op release pipeline, then
// vacuums and analyzes the database as a long-lived server's autovacuum
// would have over the months those runs took (left to autovacuum, the bulk
// load's first vacuum runs during the rounds measured after it, on the
// same two cores) and checkpoints; it returns the number of task rows
// written.
func seedDAGRuns(b *testing.B, pool *pgxpool.Pool, n int) int64 {
	b.Helper()
	ctx := context.Background()
	eng := engine.New(pool, engine.Options{})
	_, err := eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "noop", Executor: "go", Defaults: json.RawMessage(`{"function":"noop"}`)})
	require.NoError(b, err)
	_, _, err = eng.ApplyWorkflow(ctx, releasePipelineNoop(b))
	require.NoError(b, err)
	// The template run is copied, then cancelled so that no worker runs it.
	template, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "bench-dag"})
	require.NoError(b, err)
	tasks, err := SeedFinishedRuns(ctx, pool, template.ID, n)
	require.NoError(b, err)
	_, err = eng.CancelRun(ctx, template.ID, "bench")
	require.NoError(b, err)
	_, err = pool.Exec(ctx, "VACUUM (ANALYZE)")
	require.NoError(b, err)
	// The checkpoint the load and the vacuum made due (gigabytes of dirty
	// pages and WAL) is theirs too: done now, not while the rounds run.
	_, err = pool.Exec(ctx, "CHECKPOINT")
	require.NoError(b, err)
	return tasks
}

// releasePipelineNoop is the example release pipeline with every step's
// type replaced by the no-op Go task type and its params dropped.
func releasePipelineNoop(b testing.TB) *engine.WorkflowSpec {
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "workflows", "release-pipeline.yaml"))
	require.NoError(b, err)
	parsed, err := engine.ParseSpec(data)
	require.NoError(b, err)
	spec := parsed.(*engine.WorkflowSpec)
	spec.Name = "bench-dag"
	for i := range spec.Steps {
		spec.Steps[i].Type = "noop"
		spec.Steps[i].Params = nil
	}
	require.Len(b, spec.Steps, 22)
	return spec
}

func burnDownDAG(b *testing.B, pool *pgxpool.Pool, runs int) burn {
	eng, client, executed := newBaton(b, pool)
	_, _, err := eng.ApplyWorkflow(context.Background(), releasePipelineNoop(b))
	require.NoError(b, err)
	return burnDownRuns(b, pool, eng, client, executed, "bench-dag", runs, runs*22)
}
