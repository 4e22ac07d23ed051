package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/placement"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/jobs"
)

// interval is one task's execution on a node, from task events.
type interval struct {
	node       string
	start, end time.Time
	resources  bool
}

// maxOverlap returns, per node, the most tasks running at once among ivs.
func maxOverlap(ivs []interval) map[string]int {
	type edge struct {
		at    time.Time
		delta int
	}
	byNode := map[string][]edge{}
	for _, iv := range ivs {
		byNode[iv.node] = append(byNode[iv.node], edge{iv.start, 1}, edge{iv.end, -1})
	}
	out := map[string]int{}
	for node, edges := range byNode {
		// An end at the same instant as a start comes first: touching
		// intervals do not overlap.
		sort.Slice(edges, func(i, j int) bool {
			if edges[i].at.Equal(edges[j].at) {
				return edges[i].delta < edges[j].delta
			}
			return edges[i].at.Before(edges[j].at)
		})
		cur := 0
		for _, e := range edges {
			cur += e.delta
			out[node] = max(out[node], cur)
		}
	}
	return out
}

// TestTwoNodesNeverOverbook runs many 600-millis tasks on two nodes of 1000
// cpu millis each: from task events, no node ever runs two at once, every
// run succeeds, and tasks without resources still run side by side.
func TestTwoNodesNeverOverbook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	executors := executor.NewRegistry(executor.Options{})
	t.Cleanup(executors.Close)
	eng := engine.New(pool, engine.Options{})

	capacity := engine.Resources{CPUMillis: 1000, MemoryMB: 1024, DiskMB: 1024}
	for _, name := range []string{"node-a", "node-b"} {
		tracker := placement.NewTracker(capacity)
		require.NoError(t, placement.NewNode(pool, placement.NodeOptions{Name: name, Tracker: tracker, Slots: 10}).Register(ctx))
		startClient(t, pool, jobs.ClientOptions{
			Engine: eng, Executors: executors, Workers: 10, Node: name, Placement: tracker,
			TaskJobRetention: time.Hour, // the test reads succeeded tasks' job rows
		})
	}

	for _, tt := range []engine.TaskTypeSpec{
		{Name: "heavy", Executor: "sleep", Defaults: json.RawMessage(`{"duration":"150ms"}`),
			Resources: &engine.Resources{CPUMillis: 600}},
		{Name: "light", Executor: "sleep", Defaults: json.RawMessage(`{"duration":"300ms"}`)},
	} {
		_, err := eng.ApplyTaskType(ctx, &tt)
		require.NoError(t, err)
	}
	for _, def := range []string{
		"name: heavy-wf\nsteps:\n  - {name: crunch, type: heavy}\n",
		"name: light-wf\nsteps:\n  - {name: skim, type: light}\n",
	} {
		spec, err := engine.ParseSpec([]byte(def))
		require.NoError(t, err)
		_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
		require.NoError(t, err)
	}

	const heavyRuns, lightRuns = 16, 10
	var ids []int64
	for i := range heavyRuns + lightRuns {
		wf := "heavy-wf"
		if i >= heavyRuns {
			wf = "light-wf"
		}
		run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: wf})
		require.NoError(t, err)
		ids = append(ids, run.ID)
	}
	h := &harness{eng: eng, executors: executors}
	for _, id := range ids {
		run := h.waitRun(t, id, time.Minute)
		require.Equal(t, engine.RunSucceeded, run.Status, "run %d: %s", id, run.Error)
		require.Equal(t, 1, run.Tasks[0].Attempts, "run %d used more than one attempt", id)
	}

	ivs := taskIntervals(t, pool)
	require.Len(t, ivs, heavyRuns+lightRuns)
	var heavy, light []interval
	nodesUsed := map[string]bool{}
	for _, iv := range ivs {
		if iv.resources {
			heavy = append(heavy, iv)
			nodesUsed[iv.node] = true
		} else {
			light = append(light, iv)
		}
	}
	for node, n := range maxOverlap(heavy) {
		require.LessOrEqual(t, n, 1, "node %s ran %d 600-millis tasks at once", node, n)
	}
	require.Len(t, nodesUsed, 2, "both nodes should take heavy tasks")
	// Tasks that declare nothing are not limited: ten 300 ms tasks started
	// together overlap on some node.
	most := 0
	for _, n := range maxOverlap(light) {
		most = max(most, n)
	}
	require.Greater(t, most, 1, "tasks without resources should run side by side")

	var failed int
	require.NoError(t, pool.QueryRow(ctx,
		`SELECT count(*) FROM baton.task_events WHERE kind IN ('task_failed', 'task_dead', 'task_interrupted')`).Scan(&failed))
	require.Zero(t, failed)
	// The nodes were contended: tasks waited by snoozing, not by failing.
	var snoozes int
	require.NoError(t, pool.QueryRow(ctx,
		`SELECT coalesce(sum((metadata->>'snoozes')::int), 0) FROM river_job WHERE kind = 'baton_task'`).Scan(&snoozes))
	require.Positive(t, snoozes)
	t.Logf("heavy tasks per node: %v; snoozes: %d", countByNode(heavy), snoozes)
}

func countByNode(ivs []interval) map[string]int {
	out := map[string]int{}
	for _, iv := range ivs {
		out[iv.node]++
	}
	return out
}

// taskIntervals reads each succeeded task's node (task events), start and
// duration.
func taskIntervals(t *testing.T, pool *pgxpool.Pool) []interval {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT e.node, rt.started_at, e.duration_ms, rt.resources IS NOT NULL
		FROM baton.task_events e JOIN baton.run_tasks rt ON rt.id = e.task_id
		WHERE e.kind = 'task_succeeded'`)
	require.NoError(t, err)
	defer rows.Close()
	var out []interval
	for rows.Next() {
		var (
			iv  interval
			dur int64
		)
		require.NoError(t, rows.Scan(&iv.node, &iv.start, &dur, &iv.resources))
		iv.end = iv.start.Add(time.Duration(dur) * time.Millisecond)
		out = append(out, iv)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestStepThatFitsNoNodeIsRefused: with a live node of 1000 cpu millis, a
// step asking for 2000 is refused at apply time naming the step and the
// node; with no live node, the same workflow is accepted.
func TestStepThatFitsNoNodeIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	eng := engine.New(pool, engine.Options{})
	_, err := eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "work", Executor: "sleep",
		Resources: &engine.Resources{CPUMillis: 500, MemoryMB: 100}})
	require.NoError(t, err)
	apply := func(name string, cpu int64) error {
		def := fmt.Sprintf("name: %s\nsteps:\n  - {name: small, type: work}\n  - {name: huge, type: work, resources: {cpu_millis: %d}}\n", name, cpu)
		spec, err := engine.ParseSpec([]byte(def))
		require.NoError(t, err)
		_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
		return err
	}

	require.NoError(t, apply("before-nodes", 2000), "no node registered yet: accepted")

	tracker := placement.NewTracker(engine.Resources{CPUMillis: 1000, MemoryMB: 4096, DiskMB: 1000})
	require.NoError(t, placement.NewNode(pool, placement.NodeOptions{Name: "small-node", Tracker: tracker}).Register(ctx))

	err = apply("too-big", 2000)
	require.ErrorIs(t, err, engine.ErrInvalid)
	require.ErrorIs(t, err, engine.ErrNoNodeFits)
	require.Contains(t, err.Error(), `"huge"`)
	require.Contains(t, err.Error(), `"small-node"`)
	require.Contains(t, err.Error(), "cpu_millis=2000")
	t.Log(err)

	require.NoError(t, apply("fits", 1000), "a step that fits the node is accepted")

	// A run of the workflow applied before any node registered is refused
	// at start, by the API and by SQL alike, naming the step and the node;
	// a run whose steps fit starts.
	_, _, err = eng.StartRun(ctx, engine.StartParams{Workflow: "before-nodes"})
	require.ErrorIs(t, err, engine.ErrInvalid)
	require.Contains(t, err.Error(), `step "huge" needs {"memory_mb": 100, "cpu_millis": 2000}`)
	require.Contains(t, err.Error(), `"small-node"`)
	t.Log(err)
	_, err = pool.Exec(ctx, `SELECT baton.start_run('before-nodes')`)
	require.ErrorContains(t, err, `step "huge"`)
	var runs int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM baton.runs`).Scan(&runs))
	require.Zero(t, runs, "a refused start leaves nothing behind")
	_, _, err = eng.StartRun(ctx, engine.StartParams{Workflow: "fits"})
	require.NoError(t, err)

	// A gone node (no heartbeat for NodeTimeout) no longer counts.
	_, err = pool.Exec(ctx, `UPDATE baton.nodes SET heartbeat_at = now() - interval '1 minute'`)
	require.NoError(t, err)
	require.NoError(t, apply("no-live-node", 2000))
	_, _, err = eng.StartRun(ctx, engine.StartParams{Workflow: "no-live-node"})
	require.NoError(t, err, "with no live node a run is accepted and waits for one")
}
