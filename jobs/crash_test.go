package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/jobs"
)

// crashHoldFunc is the go function of the step that is running when the
// worker dies. It blocks in the helper process (TestWorkerHelperProcess
// registers it) and returns at once in the test process, so the re-delivered
// attempt finishes quickly.
const crashHoldFunc = "crash.hold"

// Names of the two worker processes in task events.
const (
	crashVictimNode  = "crash-victim"
	crashRescuerNode = "crash-rescuer"
)

// TestWorkerKilledMidTaskLosesNothing kills a worker process with SIGKILL
// while it runs a task, then starts another worker: River's rescuer hands the
// stuck job to it, and the run completes with the task's second attempt.
//
// Most of the test's time is River's leader lease: the rescuer runs only on
// the leader, and the killed process held the lease, which expires 10–15 s
// later (ElectInterval 5 s + 10 s TTL padding in river v0.51.2). The new
// leader's rescuer runs at once (then every 30 s), and its scheduler makes
// the rescued job available within 5 s.
func TestWorkerKilledMidTaskLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test waits ~20 s for River's leader lease to expire; skipped with -short")
	}
	t.Parallel()
	ctx := context.Background()
	pool, eng, run, killedAt := crashKillMidTask(t, 3)

	final := (&harness{eng: eng}).waitRun(t, run.ID, 90*time.Second)
	t.Logf("crash: worker killed mid-task; run %s %.1fs after the kill", final.Status, time.Since(killedAt).Seconds())
	require.Equal(t, engine.RunSucceeded, final.Status, final.Error)

	slow := taskByStep(final, "slow")
	require.Equal(t, engine.TaskSucceeded, slow.Status)
	require.Equal(t, 2, slow.Attempts)
	require.JSONEq(t, `{"resumed":true}`, string(slow.Output))

	// The event log shows the first step done by the killed worker and the
	// re-delivered attempt done by the other; the crash itself recorded no
	// failure (nobody was left to record it).
	events, err := eng.ListEvents(ctx, run.ID)
	require.NoError(t, err)
	type taskEvent struct {
		Step, Kind, Node string
		Attempt          int
	}
	var got []taskEvent
	for _, ev := range events {
		if ev.TaskID == nil {
			continue
		}
		te := taskEvent{Step: ev.Step, Kind: ev.Kind, Node: ev.Node}
		if ev.Attempt != nil {
			te.Attempt = *ev.Attempt
		}
		got = append(got, te)
	}
	require.Equal(t, []taskEvent{
		{Step: "a", Kind: "task_succeeded", Node: crashVictimNode, Attempt: 1},
		{Step: "slow", Kind: "task_succeeded", Node: crashRescuerNode, Attempt: 2},
		{Step: "c", Kind: "task_succeeded", Node: crashRescuerNode, Attempt: 1},
	}, got)

	// River's job row records why it was delivered again.
	var (
		attempt  int
		firstErr string
	)
	require.NoError(t, pool.QueryRow(ctx, `
		SELECT attempt, coalesce(errors[1]->>'error', '')
		FROM river_job WHERE kind = $1 AND (args->>'task_id')::bigint = $2`,
		engine.TaskKind, slow.ID).Scan(&attempt, &firstErr))
	require.Equal(t, 2, attempt)
	require.Contains(t, firstErr, "rescued")
}

// crashHelper is the worker process that the crash test kills.
type crashHelper struct {
	cmd    *exec.Cmd
	out    bytes.Buffer
	waited bool
}

// crashStartHelper starts TestWorkerHelperProcess in a child process working
// on the database at url. The child is killed when t ends, whatever happens.
func crashStartHelper(t *testing.T, url string) *crashHelper {
	t.Helper()
	h := &crashHelper{}
	h.cmd = workerProcessCommand(url, crashVictimNode, 4)
	h.cmd.Stdout = &h.out
	h.cmd.Stderr = &h.out
	require.NoError(t, h.cmd.Start())
	t.Cleanup(func() {
		h.kill(t)
		if t.Failed() {
			t.Logf("helper process output:\n%s", h.out.String())
		}
	})
	return h
}

// kill sends SIGKILL to the helper and reaps it.
func (h *crashHelper) kill(t *testing.T) {
	t.Helper()
	if h.waited {
		return
	}
	h.waited = true
	if err := h.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("kill helper process: %v", err)
	}
	err := h.cmd.Wait()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		t.Errorf("helper process: expected to be killed, got %v", err)
	}
}

// crashWaitStep polls the run until its step reaches status. On timeout it
// shows the output of helper, the process expected to get it there.
func crashWaitStep(t *testing.T, eng *engine.Engine, runID int64, step, status string, within time.Duration, helper *crashHelper) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		run, err := eng.GetRun(context.Background(), runID)
		require.NoError(t, err)
		task := taskByStep(run, step)
		require.NotNil(t, task, "step %s", step)
		if task.Status == status {
			return
		}
		if time.Now().After(deadline) {
			helper.kill(t)
			t.Logf("helper process output:\n%s", helper.out.String())
			t.Fatalf("step %s of run %d still %s after %s (run %s)", step, runID, task.Status, within, run.Status)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not a wait for work
	}
}

// crashKillMidTask starts a worker process, starts a three-step run whose
// middle step (of a task type with maxRetries) blocks in it, kills the
// process with SIGKILL while that step runs, and starts a worker in this
// process (River's rescue after 2 s, the reconciler every second). It
// returns when the kill is done.
func crashKillMidTask(t *testing.T, maxRetries int) (*pgxpool.Pool, *engine.Engine, *engine.Run, time.Time) {
	t.Helper()
	ctx := context.Background()
	url := testdb.New(t)
	pool, err := db.Open(ctx, url, db.PoolOptions{MaxConns: 10, ApplicationName: "baton-crash-test"})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	eng := engine.New(pool, engine.Options{})

	for _, tt := range []engine.TaskTypeSpec{
		{Name: "quick", Executor: "sleep", Defaults: json.RawMessage(`{"duration":"10ms"}`)},
		// A timeout well under the leader lease, so that waiting for it (River
		// leaves a job alone until its timeout passed) costs nothing.
		{Name: "hold", Executor: "go", MaxRetries: ptr(maxRetries), Timeout: "5s"},
	} {
		_, err := eng.ApplyTaskType(ctx, &tt)
		require.NoError(t, err)
	}
	spec, err := engine.ParseSpec([]byte(`
name: crash
steps:
  - {name: a, type: quick}
  - {name: slow, type: hold, depends_on: [a], params: {function: ` + crashHoldFunc + `}}
  - {name: c, type: quick, depends_on: [slow]}
`))
	require.NoError(t, err)
	_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
	require.NoError(t, err)

	victim := crashStartHelper(t, url)
	run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "crash"})
	require.NoError(t, err)

	// The worker marks a task running once it has run for 50 ms.
	crashWaitStep(t, eng, run.ID, "slow", engine.TaskRunning, 30*time.Second, victim)
	victim.kill(t)
	killedAt := time.Now()

	executors := executor.NewRegistry(executor.Options{})
	t.Cleanup(executors.Close)
	require.NoError(t, executors.RegisterFunc(crashHoldFunc, func(context.Context, json.RawMessage) (any, error) {
		return map[string]bool{"resumed": true}, nil
	}))
	startClient(t, pool, jobs.ClientOptions{
		Engine: eng, Executors: executors, Workers: 4, Node: crashRescuerNode, RescueAfter: 2 * time.Second,
		ReconcileEvery: time.Second, ReconcileGrace: time.Millisecond,
		TaskJobRetention: time.Hour, // the test reads the succeeded task's job row
	})
	return pool, eng, run, killedAt
}

// TestWorkerKilledOnLastAttemptIsRecordedDead: a worker killed during a
// task's last allowed attempt used to leave the run running forever: River's
// rescuer discards the job, and nobody recorded the task's outcome. The
// reconciler records it dead.
func TestWorkerKilledOnLastAttemptIsRecordedDead(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test waits ~20 s for River's leader lease to expire; skipped with -short")
	}
	t.Parallel()
	_, eng, run, killedAt := crashKillMidTask(t, 0)

	final := (&harness{eng: eng}).waitRun(t, run.ID, 90*time.Second)
	t.Logf("crash on the last attempt: run %s %.1fs after the kill", final.Status, time.Since(killedAt).Seconds())
	require.Equal(t, engine.RunFailed, final.Status)
	slow := taskByStep(final, "slow")
	require.Equal(t, engine.TaskDead, slow.Status)
	require.Contains(t, slow.Error, "rescued")
	require.Contains(t, slow.Error, "outcome never recorded")
	require.Equal(t, engine.TaskSkipped, taskByStep(final, "c").Status)
	require.NotEmpty(t, final.Attention)
}
