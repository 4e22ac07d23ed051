package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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

// BenchmarkBatonVersusRiver burns down N raw River no-op jobs, then N
// one-step Baton runs (no-op Go step), each with the same worker count on
// the same database, and reports both throughputs and their ratio; then it
// measures start-to-first-task latency of single runs started one by one.
func BenchmarkBatonVersusRiver(b *testing.B) {
	n := envInt("BATON_BENCH_N", 20000)
	latencyRuns := envInt("BATON_BENCH_LATENCY_RUNS", 300)
	ctx := context.Background()
	pool, err := db.Open(ctx, testdb.New(b), db.PoolOptions{MaxConns: 60, ApplicationName: "baton-bench"})
	require.NoError(b, err)
	b.Cleanup(pool.Close)

	for i := 0; i < b.N; i++ {
		riverRate := burnDownRiver(b, pool, n)
		batonRate := burnDownBaton(b, pool, n)
		lat := measureLatency(b, pool, latencyRuns)

		ratio := batonRate / riverRate
		b.ReportMetric(riverRate, "river_jobs/s")
		b.ReportMetric(batonRate, "baton_runs/s")
		b.ReportMetric(ratio*100, "baton_%_of_river")
		b.ReportMetric(float64(lat.P50.Microseconds())/1000, "p50_start_ms")
		b.ReportMetric(float64(lat.P99.Microseconds())/1000, "p99_start_ms")
		fmt.Printf("\n%-34s %10s\n", "measure ("+strconv.Itoa(n)+" each)", "value")
		fmt.Printf("%-34s %10.0f\n", "raw River no-op jobs/s", riverRate)
		fmt.Printf("%-34s %10.0f\n", "Baton one-step runs/s", batonRate)
		fmt.Printf("%-34s %9.1f%%\n", "Baton / River", ratio*100)
		fmt.Printf("%-34s %10s\n", "start -> first task p50 ("+strconv.FormatInt(lat.Runs, 10)+" runs)", lat.P50.Round(10*time.Microsecond))
		fmt.Printf("%-34s %10s\n\n", "start -> first task p99", lat.P99.Round(10*time.Microsecond))
	}
}

func riverConfig() *river.Config {
	return &river.Config{
		FetchCooldown:     2 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}},
	}
}

func burnDownRiver(b *testing.B, pool *pgxpool.Pool, n int) float64 {
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
	start := time.Now()
	require.NoError(b, client.Start(ctx))
	select {
	case <-worker.done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("raw River: %d of %d jobs worked", worker.worked.Load(), n)
	}
	elapsed := time.Since(start)
	require.NoError(b, client.Stop(ctx))
	return float64(n) / elapsed.Seconds()
}

func newBaton(b *testing.B, pool *pgxpool.Pool) (*engine.Engine, *jobs.Client) {
	ctx := context.Background()
	executors := executor.NewRegistry(executor.Options{})
	b.Cleanup(executors.Close)
	require.NoError(b, executors.RegisterFunc("noop", func(context.Context, json.RawMessage) (any, error) { return nil, nil }))
	eng := engine.New(pool, engine.Options{})
	_, err := eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "noop", Executor: "go", Defaults: json.RawMessage(`{"function":"noop"}`)})
	require.NoError(b, err)
	spec, err := engine.ParseSpec([]byte("name: bench-one\nsteps: [{name: only, type: noop}]\n"))
	require.NoError(b, err)
	_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
	require.NoError(b, err)
	client, err := jobs.NewClient(pool, jobs.ClientOptions{
		Engine: eng, Executors: executors, Workers: workers,
		FetchCooldown: 2 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond,
	})
	require.NoError(b, err)
	return eng, client
}

func burnDownBaton(b *testing.B, pool *pgxpool.Pool, n int) float64 {
	eng, client := newBaton(b, pool)
	return float64(n) / burnDownRuns(b, pool, eng, client, "bench-one", n).Seconds()
}

// burnDownRuns starts runs of workflow in batches before the workers start,
// then starts them and returns how long they took to finish every run.
func burnDownRuns(b *testing.B, pool *pgxpool.Pool, eng *engine.Engine, client *jobs.Client, workflow string, runs int) time.Duration {
	ctx := context.Background()
	before, err := eng.CountRuns(ctx, engine.RunSucceeded)
	require.NoError(b, err)
	for done := 0; done < runs; done += batchSize {
		ps := make([]engine.StartParams, min(batchSize, runs-done))
		for i := range ps {
			ps[i] = engine.StartParams{Workflow: workflow}
		}
		require.NoError(b, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := eng.StartRunsTx(ctx, tx, ps)
			return err
		}))
	}
	// Statistics as autovacuum would have them on a live system.
	require.NoError(b, eng.Analyze(ctx))
	start := time.Now()
	require.NoError(b, client.Start(ctx))
	deadline := start.Add(10 * time.Minute)
	for {
		done, err := eng.CountRuns(ctx, engine.RunSucceeded)
		require.NoError(b, err)
		if done-before >= int64(runs) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: %d of %d runs succeeded", workflow, done-before, runs)
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
	elapsed := time.Since(start)
	require.NoError(b, client.Stop(ctx))
	return elapsed
}

// measureLatency starts runs one at a time against idle workers, waiting for
// each to finish, and reports the start-to-first-task latency.
func measureLatency(b *testing.B, pool *pgxpool.Pool, runs int) *engine.StartLatency {
	ctx := context.Background()
	eng, client := newBaton(b, pool)
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
