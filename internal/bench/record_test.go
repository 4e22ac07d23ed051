package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/testdb"
)

// BenchmarkRecordSuccesses measures the database's side of recording task
// successes, alone, on one connection: BATON_BENCH_RECORD_TASKS (default
// 10,000) queued tasks of one-step runs, then of release-pipeline runs, are
// marked running (as River's fetch does) and recorded with
// engine.SucceedTasksTx (jobs deleted, as deployed) in batches of 20, 100
// and 500. It prints, per task, the server process's CPU time (from
// /proc/PID/schedstat when the server runs on this machine, else 0), the
// wall time of the recording transactions and the WAL they wrote. Batches of
// different sizes separate the cost per batch from the cost per task: the
// burn-downs of BenchmarkBatonVersusRiver record ~100 tasks per batch.
func BenchmarkRecordSuccesses(b *testing.B) {
	tasks := envInt("BATON_BENCH_RECORD_TASKS", 10000)
	fmt.Printf("\n%-9s %6s %8s %18s %16s %12s\n", "runs", "batch", "tasks", "server CPU µs/task", "wall µs/task", "WAL B/task")
	for _, dag := range []bool{false, true} {
		for _, batch := range []int{20, 100, 500} {
			workflow, per := "bench-one", 1
			if dag {
				workflow, per = "bench-dag", 22
			}
			// A database per measurement: each starts from the same tables.
			b.Run(fmt.Sprintf("%s/batch=%d", workflow, batch), func(b *testing.B) {
				ctx := context.Background()
				for i := 0; i < b.N; i++ {
					pool, err := db.Open(ctx, testdb.New(b), db.PoolOptions{ApplicationName: benchApp})
					require.NoError(b, err)
					eng, _, _ := newBaton(b, pool)
					if dag {
						_, _, err := eng.ApplyWorkflow(ctx, releasePipelineNoop(b))
						require.NoError(b, err)
					}
					startRuns(b, eng, pool, workflow, max(tasks/per, 1))
					require.NoError(b, eng.Analyze(ctx))
					r := recordQueued(b, eng, pool, batch)
					pool.Close()
					fmt.Printf("%-9s %6d %8d %18.1f %16.1f %12d\n", workflow, batch, r.tasks, r.cpuPerTask, r.wallPerTask, r.walPerTask)
					b.ReportMetric(r.cpuPerTask, "server_µs/task")
					b.ReportMetric(r.wallPerTask, "wall_µs/task")
				}
			})
		}
	}
}

// startRuns starts runs of workflow in transactions of 1,000.
func startRuns(b testing.TB, eng *engine.Engine, pool *pgxpool.Pool, workflow string, runs int) {
	ctx := context.Background()
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
}

// recording is what recordQueued measured.
type recording struct {
	tasks                   int
	cpuPerTask, wallPerTask float64
	walPerTask              int64
}

// recordQueued records successes of every queued task (and of the children
// they release, until no task is queued), batch tasks at a time in id order,
// on one connection. Only the recording transactions are measured.
func recordQueued(b testing.TB, eng *engine.Engine, pool *pgxpool.Pool, batch int) recording {
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	require.NoError(b, err)
	defer conn.Release()
	var pid int
	require.NoError(b, conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid))
	var cpu, wall time.Duration
	var wal int64
	tasks := 0
	for {
		// What River's fetch does to the jobs, unmeasured.
		rows, err := conn.Query(ctx, `
			WITH q AS (SELECT id, river_job_id FROM baton.run_tasks WHERE status = 'queued' ORDER BY id LIMIT $1),
			     j AS (UPDATE public.river_job SET state = 'running', attempt = 1, attempted_at = now()
			           WHERE id IN (SELECT river_job_id FROM q))
			SELECT id FROM q`, batch)
		require.NoError(b, err)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		require.NoError(b, err)
		if len(ids) == 0 {
			break
		}
		attempts := make([]engine.Attempt, len(ids))
		for i, id := range ids {
			attempts[i] = engine.Attempt{TaskID: id, Attempt: 1, StartedAt: time.Now(), Node: "bench"}
		}
		wal0, cpu0, start := walPosition(b, conn), serverCPU(pid), time.Now()
		require.NoError(b, pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			_, err := eng.SucceedTasksTx(ctx, tx, attempts, engine.DeleteJobs)
			return err
		}))
		wall += time.Since(start)
		cpu += serverCPU(pid) - cpu0
		wal += walPosition(b, conn) - wal0
		tasks += len(ids)
	}
	n := float64(max(tasks, 1))
	return recording{tasks: tasks, cpuPerTask: float64(cpu.Microseconds()) / n,
		wallPerTask: float64(wall.Microseconds()) / n, walPerTask: wal / int64(max(tasks, 1))}
}
