package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/jobs"
)

// Environment of the worker processes that the concurrency test starts.
const (
	workerHelperEnv        = "BATON_WORKER_HELPER"
	workerHelperDBEnv      = "BATON_WORKER_HELPER_DB"
	workerHelperNodeEnv    = "BATON_WORKER_HELPER_NODE"
	workerHelperWorkersEnv = "BATON_WORKER_HELPER_WORKERS"
)

// TestWorkerHelperProcess is not a test: tests that need worker processes
// of their own (to kill one, or to check a limit across processes) run the
// test binary again with this test selected and workerHelperEnv set. It
// works tasks until it is interrupted or killed.
func TestWorkerHelperProcess(t *testing.T) {
	if os.Getenv(workerHelperEnv) != "1" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Should the parent die without stopping us, don't outlive it for long.
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	workers, err := strconv.Atoi(os.Getenv(workerHelperWorkersEnv))
	require.NoError(t, err)
	pool, err := db.Open(ctx, os.Getenv(workerHelperDBEnv), db.PoolOptions{MaxConns: int32(workers + 5), ApplicationName: "baton-worker-helper"})
	require.NoError(t, err)
	defer pool.Close()
	executors := executor.NewRegistry(executor.Options{})
	defer executors.Close()
	require.NoError(t, executors.RegisterFunc(crashHoldFunc, func(ctx context.Context, _ json.RawMessage) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}))
	eng := engine.New(pool, engine.Options{})
	client, err := jobs.NewClient(pool, jobs.ClientOptions{
		Engine: eng, Executors: executors, Workers: workers, Node: os.Getenv(workerHelperNodeEnv),
		TaskJobRetention: time.Hour, // the tests read succeeded tasks' job rows
	})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Log("worker helper: started")
	<-ctx.Done()
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer stopCancel()
	_ = client.Stop(stopCtx)
}

// workerProcessCommand returns the command that runs TestWorkerHelperProcess
// as node with workers slots on the database at url.
func workerProcessCommand(url, node string, workers int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestWorkerHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), workerHelperEnv+"=1", workerHelperDBEnv+"="+url,
		workerHelperNodeEnv+"="+node, workerHelperWorkersEnv+"="+strconv.Itoa(workers))
	return cmd
}

// startWorkerProcess starts TestWorkerHelperProcess in a child process
// working on the database at url as node, with workers slots. The child is
// stopped when t ends.
func startWorkerProcess(t *testing.T, url, node string, workers int) {
	t.Helper()
	var out bytes.Buffer
	cmd := workerProcessCommand(url, node, workers)
	cmd.Stdout = &out
	cmd.Stderr = &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("worker process %s output:\n%s", node, out.String())
		}
	})
}

// TestConcurrencyLimitPerKeyAcrossTwoProcesses: a workflow limits its
// running tasks to 2 per customer; two worker processes of 8 slots each work
// 3 customers' runs. Task events show at most 2 tasks of a customer running
// at any instant, every run succeeds with one attempt per task, and the
// waiting was done by snoozing.
func TestConcurrencyLimitPerKeyAcrossTwoProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.New(t)
	pool := testdb.NewPoolFor(t, url)
	eng := engine.New(pool, engine.Options{})

	_, err := eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "nap", Executor: "sleep", Defaults: json.RawMessage(`{"duration":"150ms"}`)})
	require.NoError(t, err)
	spec, err := engine.ParseSpec([]byte(`
name: per-customer
concurrency:
  - key: "{{ .input.customer }}"
    limit: 2
steps:
  - {name: a, type: nap}
  - {name: b, type: nap}
  - {name: c, type: nap, depends_on: [a]}
`))
	require.NoError(t, err)
	_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
	require.NoError(t, err)

	startWorkerProcess(t, url, "proc-a", 8)
	startWorkerProcess(t, url, "proc-b", 8)

	const runsPerCustomer = 6
	customers := []string{"acme", "globex", "initech"}
	var ids []int64
	for i := range runsPerCustomer {
		for _, c := range customers {
			run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "per-customer",
				Input: json.RawMessage(fmt.Sprintf(`{"customer":%q,"n":%d}`, c, i))})
			require.NoError(t, err)
			ids = append(ids, run.ID)
		}
	}
	h := &harness{eng: eng}
	for _, id := range ids {
		run := h.waitRun(t, id, 2*time.Minute)
		require.Equal(t, engine.RunSucceeded, run.Status, "run %d: %s", id, run.Error)
		for _, task := range run.Tasks {
			require.Equal(t, 1, task.Attempts, "run %d step %s used more than one attempt", id, task.Step)
		}
	}

	// Intervals of every task, grouped by customer (maxOverlap groups by
	// the interval's node field).
	rows, err := pool.Query(ctx, `
		SELECT r.input->>'customer', e.node, rt.started_at, e.duration_ms
		FROM baton.task_events e
		JOIN baton.run_tasks rt ON rt.id = e.task_id
		JOIN baton.runs r ON r.id = e.run_id
		WHERE e.kind = 'task_succeeded'`)
	require.NoError(t, err)
	var byCustomer []interval
	nodes := map[string]int{}
	for rows.Next() {
		var (
			iv   interval
			node string
			dur  int64
		)
		require.NoError(t, rows.Scan(&iv.node, &node, &iv.start, &dur))
		iv.end = iv.start.Add(time.Duration(dur) * time.Millisecond)
		byCustomer = append(byCustomer, iv)
		nodes[node]++
	}
	require.NoError(t, rows.Err())
	require.Len(t, byCustomer, 3*runsPerCustomer*len(customers))
	overlap := maxOverlap(byCustomer)
	for _, c := range customers {
		require.LessOrEqual(t, overlap[c], 2, "customer %s had %d tasks running at once", c, overlap[c])
	}
	require.Len(t, nodes, 2, "both worker processes should work tasks: %v", nodes)

	var snoozes, leases int
	require.NoError(t, pool.QueryRow(ctx,
		`SELECT coalesce(sum((metadata->>'snoozes')::int), 0) FROM river_job WHERE kind = 'baton_task'`).Scan(&snoozes))
	require.Positive(t, snoozes, "tasks over the limit should have waited by snoozing")
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM baton.concurrency_leases`).Scan(&leases))
	require.Zero(t, leases, "every lease should be released once its task finished")
	t.Logf("most tasks running at once per customer: %v; tasks per process: %v; snoozes: %d", overlap, nodes, snoozes)
}
