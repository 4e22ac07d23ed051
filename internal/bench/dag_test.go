package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/testdb"
)

// BenchmarkDAGVersusRiver burns down N raw River no-op jobs, then N/22 runs
// of the example release pipeline (22 steps, parallel builds and tests that
// fan in) whose every step is a no-op Go function, with the same worker
// count on the same database, and reports tasks per second on both sides
// and their ratio.
func BenchmarkDAGVersusRiver(b *testing.B) {
	n := envInt("BATON_BENCH_DAG_TASKS", 22000)
	ctx := context.Background()
	pool, err := db.Open(ctx, testdb.New(b), db.PoolOptions{MaxConns: 60, ApplicationName: "baton-bench-dag"})
	require.NoError(b, err)
	b.Cleanup(pool.Close)

	for i := 0; i < b.N; i++ {
		riverRate := burnDownRiver(b, pool, n)
		taskRate := burnDownDAG(b, pool, n/22)
		ratio := taskRate / riverRate
		b.ReportMetric(riverRate, "river_jobs/s")
		b.ReportMetric(taskRate, "baton_dag_tasks/s")
		b.ReportMetric(ratio*100, "baton_dag_%_of_river")
		fmt.Printf("\n%-34s %10s\n", "measure ("+strconv.Itoa(n/22*22)+" tasks)", "value")
		fmt.Printf("%-34s %10.0f\n", "raw River no-op jobs/s", riverRate)
		fmt.Printf("%-34s %10.0f\n", "Baton 22-task DAG tasks/s", taskRate)
		fmt.Printf("%-34s %9.1f%%\n\n", "Baton DAG / River", ratio*100)
	}
}

// releasePipelineNoop is the example release pipeline with every step's
// type replaced by the no-op Go task type and its params dropped.
func releasePipelineNoop(b *testing.B) *engine.WorkflowSpec {
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

func burnDownDAG(b *testing.B, pool *pgxpool.Pool, runs int) float64 {
	eng, client := newBaton(b, pool)
	_, _, err := eng.ApplyWorkflow(context.Background(), releasePipelineNoop(b))
	require.NoError(b, err)
	return float64(runs*22) / burnDownRuns(b, pool, eng, client, "bench-dag", runs).Seconds()
}
