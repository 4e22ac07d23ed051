package jobs_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/jobs"
)

const (
	// chaosRuns runs of the 22-task release pipeline are started at once.
	chaosRuns = 100
	// chaosFailRate is the probability that one attempt of a sim task fails
	// transiently.
	chaosFailRate = 0.1
	// chaosMaxFailedRuns bounds the runs allowed to fail. A task fails only
	// when all 4 of its attempts fail (p = 0.1^4 = 1e-4); 2,200 tasks make
	// the number of failed runs about Poisson(0.22): P(>= 2) = 2.1%, which
	// would make a flaky test, while P(>= 3) = 0.13%. Every failed run must
	// moreover be explained by a task that used up its attempts.
	chaosMaxFailedRuns = 2
)

// TestChaosReleasePipeline starts 100 runs of the example release pipeline
// whose sim steps fail transiently 10% of the time, and checks that retries
// carry (nearly) all of them to success, with every attempt accounted for in
// the event log.
func TestChaosReleasePipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos test: 100 runs with retries take ~20 s; skipped with -short")
	}
	ctx := context.Background()
	eng := chaosSetup(t)

	spec := chaosPipeline(t)
	require.Len(t, spec.Steps, 22)
	_, _, err := eng.ApplyWorkflow(ctx, spec)
	require.NoError(t, err)

	params := make([]engine.StartParams, chaosRuns)
	for i := range params {
		params[i] = engine.StartParams{Workflow: spec.Name, Input: json.RawMessage(`{"version":"1.2.3"}`)}
	}
	start := time.Now()
	var ids []int64
	require.NoError(t, pgx.BeginFunc(ctx, eng.Pool(), func(tx pgx.Tx) error {
		ids, err = eng.StartRunsTx(ctx, tx, params)
		return err
	}))
	require.Len(t, ids, chaosRuns)

	succeeded, failed := chaosWaitFinished(t, eng, 3*time.Minute)
	took := time.Since(start)

	// Account for every attempt: each task has one event per failed attempt
	// and one for its outcome, and its attempt count matches them.
	retried := 0
	for _, id := range ids {
		run, err := eng.GetRun(ctx, id)
		require.NoError(t, err)
		events, err := eng.ListEvents(ctx, id)
		require.NoError(t, err)
		byTask := map[int64]map[string]int{}
		for _, ev := range events {
			if ev.TaskID == nil {
				continue
			}
			if byTask[*ev.TaskID] == nil {
				byTask[*ev.TaskID] = map[string]int{}
			}
			byTask[*ev.TaskID][ev.Kind]++
			if ev.Kind == "task_attempt_failed" {
				retried++
			}
		}
		exhausted := false
		for _, task := range run.Tasks {
			kinds := byTask[task.ID]
			switch task.Status {
			case engine.TaskSucceeded:
				require.Equal(t, 1, kinds["task_succeeded"], "run %d step %s: %v", id, task.Step, kinds)
				require.Equal(t, task.Attempts-1, kinds["task_attempt_failed"], "run %d step %s: %v", id, task.Step, kinds)
			case engine.TaskFailed, engine.TaskDead:
				require.Equal(t, 4, task.Attempts, "run %d step %s", id, task.Step)
				require.Equal(t, "transient", task.ErrorClass, "run %d step %s", id, task.Step)
				require.Equal(t, 3, kinds["task_attempt_failed"], "run %d step %s: %v", id, task.Step, kinds)
				exhausted = true
			case engine.TaskSkipped:
				require.Equal(t, engine.RunFailed, run.Status, "run %d step %s skipped in a run that did not fail", id, task.Step)
			default:
				t.Fatalf("run %d (%s): step %s is still %s", id, run.Status, task.Step, task.Status)
			}
		}
		if run.Status == engine.RunFailed {
			require.True(t, exhausted, "run %d failed without a task that used up its attempts: %s", id, run.Error)
		} else {
			require.Equal(t, engine.RunSucceeded, run.Status, "run %d", id)
		}
	}

	t.Logf("chaos: %d runs x %d tasks, fail_rate %.2f: %d succeeded, %d failed, %d attempts retried, took %.1fs",
		chaosRuns, len(spec.Steps), chaosFailRate, succeeded, failed, retried, took.Seconds())
	require.EqualValues(t, chaosRuns, succeeded+failed)
	require.LessOrEqual(t, failed, int64(chaosMaxFailedRuns))
	require.Positive(t, retried, "a 10%% failure rate over ~2,200 attempts should cause retries")
}

// chaosSetup starts a River client with Baton's workers on a fresh database
// holding the example task types.
func chaosSetup(t *testing.T) *engine.Engine {
	t.Helper()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	executors := executor.NewRegistry(executor.Options{})
	t.Cleanup(executors.Close)
	eng := engine.New(pool, engine.Options{})
	startClient(t, pool, jobs.ClientOptions{Engine: eng, Executors: executors, Workers: 50})

	files, err := filepath.Glob(filepath.Join("..", "examples", "task-types", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		spec, err := engine.ParseSpec(data)
		require.NoError(t, err, file)
		tt, ok := spec.(*engine.TaskTypeSpec)
		require.True(t, ok, "%s is not a task type", file)
		_, err = eng.ApplyTaskType(ctx, tt)
		require.NoError(t, err, file)
	}
	sim, err := eng.GetTaskType(ctx, "sim")
	require.NoError(t, err)
	require.Equal(t, 3, sim.MaxRetries, "the chaos figures assume 4 attempts per task")
	return eng
}

// chaosPipeline returns the example release pipeline, renamed, with every sim
// step made fast (5–20 ms) and failing transiently at chaosFailRate.
func chaosPipeline(t *testing.T) *engine.WorkflowSpec {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "examples", "workflows", "release-pipeline.yaml"))
	require.NoError(t, err)
	parsed, err := engine.ParseSpec(data)
	require.NoError(t, err)
	spec, ok := parsed.(*engine.WorkflowSpec)
	require.True(t, ok)
	spec.Name = "chaos-release-pipeline"
	for i := range spec.Steps {
		step := &spec.Steps[i]
		if step.Type != "sim" {
			continue
		}
		params := map[string]any{}
		if len(step.Params) > 0 {
			require.NoError(t, json.Unmarshal(step.Params, &params))
		}
		params["min"], params["max"], params["fail_rate"] = "5ms", "20ms", chaosFailRate
		step.Params, err = json.Marshal(params)
		require.NoError(t, err)
	}
	return spec
}

// chaosWaitFinished polls until no run is queued or running, and returns how
// many succeeded and failed.
func chaosWaitFinished(t *testing.T, eng *engine.Engine, within time.Duration) (succeeded, failed int64) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(within)
	for {
		var err error
		succeeded, err = eng.CountRuns(ctx, engine.RunSucceeded)
		require.NoError(t, err)
		failed, err = eng.CountRuns(ctx, engine.RunFailed)
		require.NoError(t, err)
		if succeeded+failed >= chaosRuns {
			return succeeded, failed
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s only %d of %d runs finished (%d succeeded, %d failed)", within, succeeded+failed, chaosRuns, succeeded, failed)
		}
		time.Sleep(100 * time.Millisecond) // polling interval, not a wait for work
	}
}
