package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/jobs"
)

// noopArgs is the raw River job of the comparison.
type noopArgs struct {
	N int `json:"n"`
}

func (noopArgs) Kind() string { return "bench_noop" }

// noopWorker counts the jobs it worked and signals when it reached target.
type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	worked *atomic.Int64
	target int64
	done   chan struct{}
}

func (w *noopWorker) Work(context.Context, *river.Job[noopArgs]) error {
	if w.worked.Add(1) == w.target {
		close(w.done)
	}
	return nil
}

const (
	batchSize = 1000
	workers   = 1000
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkBatonVersusRiver compares Baton with raw River, each side with
// the same worker count on the same database and pool (db.DefaultMaxConns
// connections), in rounds (BATON_BENCH_ROUNDS, default 3):
//
//   - one-step: N raw River no-op jobs, then N one-step Baton runs (no-op Go
//     step); runs per second against jobs per second (BATON_BENCH_N,
//     default 20,000);
//   - DAG: BATON_BENCH_DAG_TASKS (default 22,000) raw River jobs, then as
//     many tasks in runs of the 22-task release pipeline with no-op steps;
//     tasks per second against jobs per second.
//
// It runs the rounds on a fresh database, then seeds BATON_BENCH_SEED_RUNS
// (default 100,000; 0 skips it) finished release-pipeline runs, vacuums,
// checkpoints, and runs them again. Each phase ends with start-to-first-task
// latency. It prints the server settings that matter, every round, the
// medians, the most connections the bench pool held, and the storage taken
// by 1,000 release-pipeline runs (Baton's tables and River's job rows
// separately).
func BenchmarkBatonVersusRiver(b *testing.B) {
	n := envInt("BATON_BENCH_N", 20000)
	dagTasks := envInt("BATON_BENCH_DAG_TASKS", 22000)
	rounds := envInt("BATON_BENCH_ROUNDS", 3)
	seedRuns := envIntOrZero("BATON_BENCH_SEED_RUNS", 100000)
	latencyRuns := envInt("BATON_BENCH_LATENCY_RUNS", 300)
	ctx := context.Background()
	url := testdb.New(b)
	pool, err := db.Open(ctx, url, db.PoolOptions{ApplicationName: benchApp})
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	printSettings(b, pool)

	for i := 0; i < b.N; i++ {
		var storage *storageUse
		for _, phase := range []string{"fresh database", "after seeding"} {
			if phase == "after seeding" {
				if seedRuns == 0 {
					break
				}
				start := time.Now()
				tasks := seedDAGRuns(b, pool, seedRuns)
				phase = fmt.Sprintf("after seeding %d finished runs (%d tasks) and a VACUUM (ANALYZE) and CHECKPOINT, %s", seedRuns, tasks, time.Since(start).Round(time.Second))
			}
			mon := startSampler(b, url, benchApp)
			var one, dag []float64
			fmt.Printf("\n%s\n%-6s %12s %12s %8s %12s %14s %8s   %s\n", phase,
				"round", "River jobs/s", "1-step runs/s", "ratio", "River jobs/s", "DAG tasks/s", "ratio",
				"machine CPU (Go part) and WAL per 1,000 River jobs, 1-step runs, DAG tasks")
			for r := 1; r <= rounds; r++ {
				river1 := burnDownRiver(b, pool, n)
				steps := burnDownBaton(b, pool, n)
				river2 := burnDownRiver(b, pool, dagTasks)
				var tasks burn
				if storage == nil {
					storage = &storageUse{runs: dagTasks / 22}
					storage.before = measureStorage(b, pool)
					tasks = burnDownDAG(b, pool, dagTasks/22)
					storage.after = measureStorage(b, pool)
				} else {
					tasks = burnDownDAG(b, pool, dagTasks/22)
				}
				one = append(one, steps.perSec/river1.perSec)
				dag = append(dag, tasks.perSec/river2.perSec)
				fmt.Printf("%-6d %12.0f %12.0f %7.1f%% %12.0f %14.0f %7.1f%%   %s, %s, %s\n", r,
					river1.perSec, steps.perSec, 100*steps.perSec/river1.perSec,
					river2.perSec, tasks.perSec, 100*tasks.perSec/river2.perSec,
					river1, steps, tasks)
			}
			seen := mon.finish()
			lat := measureLatency(b, pool, latencyRuns)
			fmt.Printf("median one-step %.1f %%, DAG %.1f %%; start -> first task p50 %s, p99 %s (%d runs)\n",
				100*median(one), 100*median(dag), lat.P50.Round(10*time.Microsecond), lat.P99.Round(10*time.Microsecond), lat.Runs)
			fmt.Printf("most connections held by the bench pool: %d (budget %d); deadlocks: %d; longest lock wait %s (recording statements %s)\n",
				seen.MaxConns, pool.Config().MaxConns, seen.Deadlocks, seen.MaxLockWait.Round(time.Millisecond), seen.MaxFlushLockWait.Round(time.Millisecond))
			require.LessOrEqual(b, seen.MaxConns, int(pool.Config().MaxConns), "connections above the pool budget")
			require.Zero(b, seen.Deadlocks, "deadlocks during the burn-downs")
			tag := strings.Fields(phase)[0]
			b.ReportMetric(100*median(one), tag+"_one_step_%_of_river")
			b.ReportMetric(100*median(dag), tag+"_dag_%_of_river")
			b.ReportMetric(float64(lat.P99.Microseconds())/1000, tag+"_p99_start_ms")
		}
		storage.print()
	}
}

// benchApp is the application_name of the bench pool's sessions.
const benchApp = "baton-bench"

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func envIntOrZero(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v >= 0 {
		return v
	}
	return def
}

// storageUse is the disk taken by the runs of one DAG burn-down.
type storageUse struct {
	runs          int
	before, after [2]int64 // Baton's tables (with indexes and TOAST), River's river_job
}

// measureStorage returns the size of every table of schema baton (leaf
// partitions included, with their indexes and TOAST) and of river_job.
func measureStorage(b *testing.B, pool *pgxpool.Pool) [2]int64 {
	b.Helper()
	var out [2]int64
	require.NoError(b, pool.QueryRow(context.Background(), `
		SELECT (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
		        JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE ns.nspname = 'baton' AND c.relkind IN ('r', 'm')),
		       pg_total_relation_size('public.river_job')`).Scan(&out[0], &out[1]))
	return out
}

func (s *storageUse) print() {
	if s == nil || s.runs == 0 {
		return
	}
	per := func(i int) float64 { return float64(s.after[i]-s.before[i]) / float64(s.runs) * 1000 / (1 << 20) }
	fmt.Printf("storage per 1,000 release-pipeline runs (first DAG round, no vacuum yet): Baton's tables %.1f MB, River's river_job %.1f MB "+
		"(a succeeded task's job is deleted with its success: jobs.DefaultTaskJobRetention = %s)\n\n", per(0), per(1), jobs.DefaultTaskJobRetention)
}

func riverConfig() *river.Config {
	return &river.Config{
		FetchCooldown:     2 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}},
	}
}

func burnDownRiver(b *testing.B, pool *pgxpool.Pool, n int) burn {
	ctx := context.Background()
	worker := &noopWorker{worked: &atomic.Int64{}, target: int64(n), done: make(chan struct{})}
	w := river.NewWorkers()
	river.AddWorker(w, worker)
	cfg := riverConfig()
	cfg.Workers = w
	client, err := river.NewClient(riverpgxv5.New(pool), cfg)
	require.NoError(b, err)
	for done := 0; done < n; done += batchSize {
		params := make([]river.InsertManyParams, min(batchSize, n-done))
		for i := range params {
			params[i] = river.InsertManyParams{Args: noopArgs{N: done + i}}
		}
		_, err := client.InsertMany(ctx, params)
		require.NoError(b, err)
	}
	// Statistics as autovacuum would have them on a live system.
	require.NoError(b, engine.New(pool, engine.Options{}).Analyze(ctx))
	return measureBurn(b, pool, n, func() time.Duration {
		start := time.Now()
		require.NoError(b, client.Start(ctx))
		select {
		case <-worker.done:
		case <-time.After(5 * time.Minute):
			b.Fatalf("raw River: %d of %d jobs worked", worker.worked.Load(), n)
		}
		elapsed := time.Since(start)
		require.NoError(b, client.Stop(ctx))
		return elapsed
	})
}

// newBaton returns an engine and a client whose no-op task type counts its
// executions in executed.
func newBaton(b testing.TB, pool *pgxpool.Pool) (eng *engine.Engine, client *jobs.Client, executed *atomic.Int64) {
	ctx := context.Background()
	executors := executor.NewRegistry(executor.Options{})
	b.Cleanup(executors.Close)
	executed = &atomic.Int64{}
	require.NoError(b, executors.RegisterFunc("noop", func(context.Context, json.RawMessage) (any, error) {
		executed.Add(1)
		return nil, nil
	}))
	eng = engine.New(pool, engine.Options{})
	_, err := eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "noop", Executor: "go", Defaults: json.RawMessage(`{"function":"noop"}`)})
	require.NoError(b, err)
	spec, err := engine.ParseSpec([]byte("name: bench-one\nsteps: [{name: only, type: noop}]\n"))
	require.NoError(b, err)
	_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
	require.NoError(b, err)
	client, err = jobs.NewClient(pool, jobs.ClientOptions{
		Engine: eng, Executors: executors, Workers: workers,
		FetchCooldown: 2 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond,
	})
	require.NoError(b, err)
	return eng, client, executed
}

func burnDownBaton(b *testing.B, pool *pgxpool.Pool, n int) burn {
	eng, client, executed := newBaton(b, pool)
	return burnDownRuns(b, pool, eng, client, executed, "bench-one", n, n)
}

// burnDownRuns starts runs of workflow in batches before the workers start,
// then starts them and measures how long they took to finish every run, as
// items (runs, or their tasks) per second.
func burnDownRuns(b *testing.B, pool *pgxpool.Pool, eng *engine.Engine, client *jobs.Client, executed *atomic.Int64,
	workflow string, runs, items int) burn {
	ctx := context.Background()
	startRuns(b, eng, pool, workflow, runs)
	// Statistics as autovacuum would have them on a live system.
	require.NoError(b, eng.Analyze(ctx))
	return measureBurn(b, pool, items, func() time.Duration {
		start := time.Now()
		require.NoError(b, client.Start(ctx))
		deadline := start.Add(10 * time.Minute)
		// Until every task has run, wait in the process, as raw River's
		// burn-down does: polling the database meanwhile would load it
		// with queries raw River does not make.
		for executed.Load() < int64(items) {
			if time.Now().After(deadline) {
				b.Fatalf("%s: %d of %d tasks executed", workflow, executed.Load(), items)
			}
			time.Sleep(time.Millisecond) // polling interval (an atomic load)
		}
		for {
			// Runs still going, their last outcomes not yet recorded (not the
			// finished ones: their count grows with the seeded tables).
			var left int64
			for _, status := range []string{engine.RunQueued, engine.RunRunning} {
				n, err := eng.CountRuns(ctx, status)
				require.NoError(b, err)
				left += n
			}
			if left == 0 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: %d of %d runs unfinished", workflow, left, runs)
			}
			time.Sleep(5 * time.Millisecond) // polling interval
		}
		elapsed := time.Since(start)
		require.NoError(b, client.Stop(ctx))
		return elapsed
	})
}

// measureLatency starts runs one at a time against idle workers, waiting for
// each to finish, and reports the start-to-first-task latency.
func measureLatency(b *testing.B, pool *pgxpool.Pool, runs int) *engine.StartLatency {
	ctx := context.Background()
	eng, client, _ := newBaton(b, pool)
	require.NoError(b, client.Start(ctx))
	defer func() { require.NoError(b, client.Stop(ctx)) }()
	since := time.Now()
	for i := 0; i < runs; i++ {
		run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "bench-one"})
		require.NoError(b, err)
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := eng.GetRun(ctx, run.ID)
			require.NoError(b, err)
			if got.Status == engine.RunSucceeded {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("run %d did not finish", run.ID)
			}
			time.Sleep(time.Millisecond) // polling interval
		}
	}
	lat, err := eng.MeasureStartLatency(ctx, since.Add(-time.Second))
	require.NoError(b, err)
	return lat
}
