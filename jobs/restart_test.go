package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/db/devcluster"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/jobs"
)

const (
	// restartRuns runs of a 22-task pipeline are going when PostgreSQL
	// restarts.
	restartRuns = 20
	// restartStepMin and restartStepMax bound how long one task works.
	restartStepMin, restartStepMax = 100 * time.Millisecond, 400 * time.Millisecond
)

// TestDatabaseRestartUnderLoad restarts a private PostgreSQL cluster under
// 20 running 22-task pipelines, with max_retries 0 and 3: every run must
// reach a final state (here: succeed, as no task fails by itself), and no
// task that had finished before the restart may run again. It prints how
// many tasks ran twice.
func TestDatabaseRestartUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: restarts a private PostgreSQL cluster twice (~40 s); skipped with -short")
	}
	ctx := context.Background()
	cluster, err := devcluster.Start(ctx, devcluster.Options{Dir: t.TempDir()})
	if err != nil {
		t.Skipf("no private PostgreSQL cluster here: %v", err)
	}
	t.Cleanup(func() { _ = cluster.Stop(context.Background()) })

	for _, maxRetries := range []int{0, 3} {
		t.Run(fmt.Sprintf("max_retries=%d", maxRetries), func(t *testing.T) {
			cluster = restartUnderLoad(t, cluster, maxRetries)
		})
	}
}

// executions records, per task key, when each successful execution started
// and ended, and how many executions failed. With failFirst, a fifth of the
// tasks fail transiently on their first execution.
type executions struct {
	failFirst bool

	mu       sync.Mutex
	runs     map[string][][2]time.Time
	failures map[string]int
}

func (e *executions) work(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct{ Key string }
	if err := json.Unmarshal(raw, &args); err != nil {
		return nil, executor.Permanent(err)
	}
	start := time.Now()
	d := restartStepMin + rand.N(restartStepMax-restartStepMin)
	select { // the task's work
	case <-time.After(d):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failFirst && e.failures[args.Key] == 0 && len(e.runs[args.Key]) == 0 && crc32.ChecksumIEEE([]byte(args.Key))%5 == 0 {
		e.failures[args.Key]++
		return nil, executor.Transient(errors.New("first attempt fails"))
	}
	e.runs[args.Key] = append(e.runs[args.Key], [2]time.Time{start, time.Now()})
	return map[string]string{"key": args.Key}, nil
}

func (e *executions) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, r := range e.runs {
		n += len(r)
	}
	return n
}

// twice returns how many tasks ran more than once, and how many of those
// had finished their first execution before stoppedAt.
func (e *executions) twice(stoppedAt time.Time) (twice, finishedBefore int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range e.runs {
		if len(r) > 1 {
			twice++
			if r[0][1].Before(stoppedAt) {
				finishedBefore++
			}
		}
	}
	return twice, finishedBefore
}

func restartUnderLoad(t *testing.T, cluster *devcluster.Cluster, maxRetries int) *devcluster.Cluster {
	ctx := context.Background()
	dbName := fmt.Sprintf("restart_%d", maxRetries)
	admin, err := pgx.Connect(ctx, cluster.AdminURL())
	require.NoError(t, err)
	_, err = admin.Exec(ctx, "CREATE DATABASE "+dbName)
	require.NoError(t, err)
	require.NoError(t, admin.Close(ctx))
	url := strings.Replace(cluster.URL(), "/baton?", "/"+dbName+"?", 1)

	pool, err := db.Open(ctx, url, db.PoolOptions{MaxConns: 20, ApplicationName: "baton-restart-test"})
	require.NoError(t, err)
	defer pool.Close()
	require.NoError(t, db.Migrate(ctx, pool))
	eng := engine.New(pool, engine.Options{})

	done := &executions{failFirst: maxRetries > 0, runs: map[string][][2]time.Time{}, failures: map[string]int{}}
	executors := executor.NewRegistry(executor.Options{})
	defer executors.Close()
	require.NoError(t, executors.RegisterFunc("work", done.work))
	_, err = eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "unit", Executor: "go", MaxRetries: ptr(maxRetries), Timeout: "5s"})
	require.NoError(t, err)
	spec, err := engine.ParseSpec([]byte(restartPipeline()))
	require.NoError(t, err)
	_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
	require.NoError(t, err)

	client, err := jobs.NewClient(pool, jobs.ClientOptions{
		Engine: eng, Executors: executors, Workers: 50, RescueAfter: 10 * time.Second,
	})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, client.Stop(stopCtx))
	}()

	ids := make([]int64, restartRuns)
	for i := range ids {
		run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "restart", Input: json.RawMessage(fmt.Sprintf(`{"key":"r%d"}`, i))})
		require.NoError(t, err)
		ids[i] = run.ID
	}

	// Restart once about a third of the 440 tasks have run.
	deadline := time.Now().Add(time.Minute)
	for done.count() < restartRuns*22/3 {
		require.True(t, time.Now().Before(deadline), "tasks do not run: %d executed", done.count())
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	before := done.count()
	stoppedAt := time.Now()
	require.NoError(t, cluster.Stop(ctx))
	cluster, err = devcluster.Start(ctx, devcluster.Options{Dir: cluster.Home(), Port: cluster.Port()})
	require.NoError(t, err)
	t.Logf("PostgreSQL restarted in %s with %d of %d tasks executed", time.Since(stoppedAt).Round(time.Millisecond), before, restartRuns*22)

	statuses := map[string]int{}
	for _, id := range ids {
		run := waitFinal(t, eng, id, 3*time.Minute)
		statuses[run.Status]++
		require.Equal(t, engine.RunSucceeded, run.Status, "run %d: %s", id, run.Error)
	}
	twice, finishedBefore := done.twice(stoppedAt)
	t.Logf("max_retries %d: runs %v; %d successful executions of 440 tasks; %d tasks ran twice (%d of them had finished before the restart)",
		maxRetries, statuses, done.count(), twice, finishedBefore)
	require.Zero(t, finishedBefore, "a task that had finished before the restart ran again")

	// The audit trail holds every failed attempt, those that failed while
	// the database was down included.
	rows, err := pool.Query(ctx, `SELECT r.input->>'key' || '/' || e.step_name, count(*)
		FROM baton.task_events e JOIN baton.runs r ON r.id = e.run_id
		WHERE e.kind = 'task_attempt_failed' GROUP BY 1`)
	require.NoError(t, err)
	logged, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (kv struct {
		Key string
		N   int
	}, err error) {
		err = row.Scan(&kv.Key, &kv.N)
		return kv, err
	})
	require.NoError(t, err)
	got := map[string]int{}
	for _, kv := range logged {
		got[kv.Key] = kv.N
	}
	require.Equal(t, done.failures, got, "failed attempts in task_events")
	t.Logf("%d failed attempts, each in task_events", len(done.failures))
	return cluster
}

// waitFinal polls a run until it is final, tolerating the database being
// briefly unreachable.
func waitFinal(t *testing.T, eng *engine.Engine, id int64, within time.Duration) *engine.Run {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		run, err := eng.GetRun(context.Background(), id)
		if err == nil {
			switch run.Status {
			case engine.RunSucceeded, engine.RunFailed, engine.RunCancelled:
				return run
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %d not final after %s (err %v)", id, within, err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// restartPipeline is a 22-step DAG in six layers (1, 4, 6, 6, 4, 1), each
// step depending on two steps of the layer before.
func restartPipeline() string {
	var b strings.Builder
	b.WriteString("name: restart\nsteps:\n")
	layers := []int{1, 4, 6, 6, 4, 1}
	var prev []string
	for l, n := range layers {
		var cur []string
		for i := range n {
			name := fmt.Sprintf("s%d_%d", l, i)
			deps := ""
			if len(prev) > 0 {
				a, c := prev[i%len(prev)], prev[(i+1)%len(prev)]
				if a == c {
					deps = fmt.Sprintf(", depends_on: [%s]", a)
				} else {
					deps = fmt.Sprintf(", depends_on: [%s, %s]", a, c)
				}
			}
			fmt.Fprintf(&b, "  - {name: %s, type: unit%s, params: {function: work, args: {key: \"{{ .input.key }}/%s\"}}}\n", name, deps, name)
			cur = append(cur, name)
		}
		prev = cur
	}
	return b.String()
}
