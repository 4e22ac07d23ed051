package jobs_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/jobs"
)

// priorityFixture has a "hold" task type whose tasks block until release
// is closed, a "quick" one that returns at once, and workflows low-hold
// (priority 3), low-quick (priority 3) and high (priority 1, quick).
type priorityFixture struct {
	pool    *pgxpool.Pool
	eng     *engine.Engine
	exec    *executor.Registry
	release chan struct{}
}

func newPriorityFixture(t *testing.T) *priorityFixture {
	t.Helper()
	ctx := context.Background()
	f := &priorityFixture{pool: testdb.NewPool(t), exec: executor.NewRegistry(executor.Options{}), release: make(chan struct{})}
	t.Cleanup(f.exec.Close)
	f.eng = engine.New(f.pool, engine.Options{})
	require.NoError(t, f.exec.RegisterFunc("test.hold", func(ctx context.Context, _ json.RawMessage) (any, error) {
		select {
		case <-f.release:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}))
	for _, tt := range []engine.TaskTypeSpec{
		{Name: "hold", Executor: "go", Defaults: json.RawMessage(`{"function":"test.hold"}`)},
		{Name: "quick", Executor: "sleep", Defaults: json.RawMessage(`{"duration":"0s"}`)},
	} {
		_, err := f.eng.ApplyTaskType(ctx, &tt)
		require.NoError(t, err)
	}
	for _, doc := range []string{
		`{"name": "low-hold", "priority": 3, "steps": [{"name": "a", "type": "hold"}]}`,
		`{"name": "low-quick", "priority": 3, "steps": [{"name": "a", "type": "quick"}]}`,
		`{"name": "high", "priority": 1, "steps": [{"name": "a", "type": "quick"}]}`,
	} {
		spec, err := engine.ParseSpec([]byte(doc))
		require.NoError(t, err)
		_, _, err = f.eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
		require.NoError(t, err)
	}
	// Let the held tasks end before the clients stop (cleanups run last
	// registered first: this one runs before the clients' Stop).
	return f
}

func (f *priorityFixture) startRuns(t *testing.T, workflow string, n int) {
	t.Helper()
	_, err := f.pool.Exec(context.Background(), `SELECT baton.start_run($1) FROM generate_series(1, $2)`, workflow, n)
	require.NoError(t, err)
}

// waitTasks polls until n tasks of workflow are in one of statuses.
func (f *priorityFixture) waitTasks(t *testing.T, workflow string, n int, statuses ...string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var got int
		require.NoError(t, f.pool.QueryRow(context.Background(), `
			SELECT count(*) FROM baton.run_tasks t JOIN baton.runs r ON r.id = t.run_id
			WHERE r.workflow_name = $1 AND t.status = ANY ($2)`, workflow, statuses).Scan(&got))
		if got >= n {
			return
		}
		require.True(t, time.Now().Before(deadline), "%d of %d %s tasks %v", got, n, workflow, statuses)
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// TestHighPriorityIsNextBehindQueuedLowPriority: with the only worker slot
// busy and 100 low-priority tasks queued, a new high-priority task is the
// next to start when the slot frees.
func TestHighPriorityIsNextBehindQueuedLowPriority(t *testing.T) {
	t.Parallel()
	f := newPriorityFixture(t)
	startClient(t, f.pool, jobs.ClientOptions{Engine: f.eng, Executors: f.exec, Workers: 1, ReservedShare: -1})
	t.Cleanup(func() { closeOnce(f.release) })

	f.startRuns(t, "low-hold", 1)
	f.waitTasks(t, "low-hold", 1, engine.TaskRunning)
	f.startRuns(t, "low-quick", 100)
	f.startRuns(t, "high", 1)
	close(f.release)
	f.waitTasks(t, "low-quick", 100, engine.TaskSucceeded)
	f.waitTasks(t, "high", 1, engine.TaskSucceeded)

	var earlierLow int
	require.NoError(t, f.pool.QueryRow(context.Background(), `
		SELECT count(*) FROM baton.run_tasks t JOIN baton.runs r ON r.id = t.run_id
		WHERE r.workflow_name = 'low-quick'
		  AND t.started_at < (SELECT t2.started_at FROM baton.run_tasks t2 JOIN baton.runs r2 ON r2.id = t2.run_id
		                      WHERE r2.workflow_name = 'high')`).Scan(&earlierLow))
	require.Zero(t, earlierLow, "low-priority tasks started before the high-priority one")
}

// TestReservedCapacityStartsHighPriorityBehindAFlood: every general slot
// is held by low-priority tasks and 1,000 more are queued; a high-priority
// run still finishes within a second, on reserved capacity.
func TestReservedCapacityStartsHighPriorityBehindAFlood(t *testing.T) {
	t.Parallel()
	f := newPriorityFixture(t)
	// 5 slots: 4 general, 1 reserved.
	startClient(t, f.pool, jobs.ClientOptions{Engine: f.eng, Executors: f.exec, Workers: 5, ReservedShare: 0.2,
		TaskJobRetention: time.Hour}) // the test reads the succeeded task's job row
	t.Cleanup(func() { closeOnce(f.release) })

	f.startRuns(t, "low-hold", 1000)
	f.waitTasks(t, "low-hold", 4, engine.TaskRunning)

	start := time.Now()
	run, _, err := f.eng.StartRun(context.Background(), engine.StartParams{Workflow: "high"})
	require.NoError(t, err)
	final := (&harness{eng: f.eng}).waitRun(t, run.ID, 30*time.Second)
	took := time.Since(start)
	require.Equal(t, engine.RunSucceeded, final.Status)
	t.Logf("high-priority run behind 1,000 queued low-priority tasks finished in %s", took.Round(time.Millisecond))
	require.Less(t, took, time.Second)

	var running, queue string
	require.NoError(t, f.pool.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM baton.run_tasks WHERE status = 'running')::text, j.queue
		FROM river_job j WHERE j.id = (SELECT river_job_id FROM baton.run_tasks WHERE run_id = $1)`, run.ID).Scan(&running, &queue))
	require.Equal(t, jobs.QueueReserved, queue, "the high-priority task should have run on reserved capacity")
	require.Equal(t, "4", running, "low-priority tasks must not use reserved capacity")
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}
