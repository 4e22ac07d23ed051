package batch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/batch"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/jobs"
)

type harness struct {
	pool    *pgxpool.Pool
	eng     *engine.Engine
	batches *batch.Service
	healthy *atomic.Bool // the "remote" workflow's target answers 200 when true, 400 otherwise
}

// setup runs the workers with the batch check on a fresh database, with
// workflows quick (two short steps), slow (a 20 s step), doomed (fails at
// once for good) and remote (an http step failing permanently until
// healthy is set).
func setup(t *testing.T) *harness {
	t.Helper()
	pool := testdb.NewPool(t)
	eng := engine.New(pool, engine.Options{})
	svc := batch.New(pool)
	healthy := &atomic.Bool{}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(`{"ok": true}`))
	}))
	t.Cleanup(target.Close)
	executors := executor.NewRegistry(executor.Options{AllowPrivateHTTP: true})
	t.Cleanup(executors.Close)
	client, err := jobs.NewClient(pool, jobs.ClientOptions{Engine: eng, Executors: executors, Workers: 20, Batches: svc})
	require.NoError(t, err)
	require.NoError(t, client.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, client.StopAndCancel(ctx))
	})
	ctx := context.Background()
	zero := 0
	for _, tt := range []*engine.TaskTypeSpec{
		{Name: "quick", Executor: "sim"},
		{Name: "fragile", Executor: "sim", MaxRetries: &zero},
		{Name: "call", Executor: "http", MaxRetries: &zero},
	} {
		_, err := eng.ApplyTaskType(ctx, tt)
		require.NoError(t, err)
	}
	for _, y := range []string{
		"name: quick\nsteps:\n- {name: a, type: quick, params: {min: 50ms, max: 150ms}}\n- {name: b, type: quick, depends_on: [a], params: {min: 50ms, max: 150ms}}\n",
		"name: slow\nsteps: [{name: wait, type: quick, params: {min: 20s}}]\n",
		"name: doomed\nsteps: [{name: roll, type: fragile, params: {min: 300ms, permanent_fail_rate: 1}}]\n",
		"name: remote\nsteps: [{name: call, type: call, params: {url: \"" + target.URL + "\"}}]\n",
	} {
		spec, err := engine.ParseSpec([]byte(y))
		require.NoError(t, err)
		_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
		require.NoError(t, err)
	}
	return &harness{pool: pool, eng: eng, batches: svc, healthy: healthy}
}

func (h *harness) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, h.pool.QueryRow(context.Background(), query, args...).Scan(&n))
	return n
}

// waitFinished polls the batch until it has finished, checking that the
// percentage never goes down.
func (h *harness) waitFinished(t *testing.T, id int64) *batch.Progress {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := -1.0
	for {
		p, err := h.batches.Get(context.Background(), id)
		require.NoError(t, err)
		require.GreaterOrEqual(t, p.Percent, last, "progress went back")
		last = p.Percent
		if p.Finished() {
			return p
		}
		require.True(t, time.Now().Before(deadline), "batch %d still %s at %.1f%%", id, p.Status, p.Percent)
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInvalidMemberStartsNothing: one bad member refuses the whole batch,
// naming every bad member's index and reason.
func TestInvalidMemberStartsNothing(t *testing.T) {
	t.Parallel()
	h := setup(t)
	_, err := h.batches.Start(context.Background(), batch.Spec{Members: []batch.Member{
		{Workflow: "quick"},
		{Workflow: "nope"},
		{Workflow: "quick", Input: json.RawMessage(`[1, 2]`)},
		{Workflow: "quick", Priority: 9},
		{Workflow: "quick", Version: 7},
		{Workflow: "quick"},
	}}, "test")
	var invalid *engine.ValidationError
	require.True(t, errors.As(err, &invalid), "%v", err)
	fields := map[string]string{}
	for _, p := range invalid.Problems {
		fields[p.Field] = p.Message
	}
	require.Len(t, fields, 4, "%v", fields)
	require.Contains(t, fields["members[1]"], `unknown workflow "nope"`)
	require.Contains(t, fields["members[2]"], "input")
	require.Contains(t, fields["members[3]"], "priority")
	require.Contains(t, fields["members[4]"], "version 7")
	require.Zero(t, h.count(t, `SELECT count(*) FROM baton.runs`))
	require.Zero(t, h.count(t, `SELECT count(*) FROM baton.batches`))
}

// TestBatchSucceedsWithMonotonicProgress: a batch of quick runs ends
// succeeded at 100 %, with a batch_finished event.
func TestBatchSucceedsWithMonotonicProgress(t *testing.T) {
	t.Parallel()
	h := setup(t)
	members := make([]batch.Member, 20)
	for i := range members {
		members[i] = batch.Member{Workflow: "quick", Input: json.RawMessage(fmt.Sprintf(`{"i": %d}`, i)), Tags: []string{"nightly"}}
	}
	p, err := h.batches.Start(context.Background(), batch.Spec{Name: "nightly", Members: members}, "test")
	require.NoError(t, err)
	require.Equal(t, "running", p.Status)
	require.Equal(t, 20, p.MembersTotal)
	require.EqualValues(t, 40, p.TasksTotal)
	p = h.waitFinished(t, p.ID)
	require.Equal(t, "succeeded", p.Status)
	require.Equal(t, 100.0, p.Percent)
	require.EqualValues(t, 40, p.TasksDone)
	require.Equal(t, map[string]int{"succeeded": 20}, p.Members)
	require.Equal(t, 20, h.count(t, `SELECT count(*) FROM baton.runs WHERE trigger = 'batch' AND trigger_ref = $1`, fmt.Sprint(p.ID)))
	require.Equal(t, 1, h.count(t, `SELECT count(*) FROM baton.task_events WHERE kind = 'batch_finished' AND (data->>'batch_id')::bigint = $1`, p.ID))
}

// TestRollbackCancelsTheOthers: in a rollback batch, one failing member
// cancels the unfinished others and fails the batch.
func TestRollbackCancelsTheOthers(t *testing.T) {
	t.Parallel()
	h := setup(t)
	p, err := h.batches.Start(context.Background(), batch.Spec{OnMemberFailure: "rollback", Members: []batch.Member{
		{Workflow: "slow"}, {Workflow: "slow"}, {Workflow: "doomed"}, {Workflow: "slow"},
	}}, "test")
	require.NoError(t, err)
	p = h.waitFinished(t, p.ID)
	require.Equal(t, "failed", p.Status)
	require.Equal(t, map[string]int{"failed": 1, "cancelled": 3}, p.Members)
	// The cancellations are in the event log, by the batch.
	require.Equal(t, 3, h.count(t, `SELECT count(*) FROM baton.task_events e JOIN baton.batch_members m ON m.run_id = e.run_id
		WHERE m.batch_id = $1 AND e.kind = 'run_cancelled' AND e.actor = $2`, p.ID, fmt.Sprintf("batch %d", p.ID)))
}

// TestRetryBringsTheBatchToSucceeded: failed members started again (new
// runs, same input) bring a failed batch to succeeded; cancel refuses a
// finished batch.
func TestRetryBringsTheBatchToSucceeded(t *testing.T) {
	t.Parallel()
	h := setup(t)
	ctx := context.Background()
	p, err := h.batches.Start(ctx, batch.Spec{Members: []batch.Member{
		{Workflow: "quick"}, {Workflow: "remote", Input: json.RawMessage(`{"order": 7}`)}, {Workflow: "quick"},
	}}, "test")
	require.NoError(t, err)
	p = h.waitFinished(t, p.ID)
	require.Equal(t, "failed", p.Status)
	require.Equal(t, map[string]int{"succeeded": 2, "failed": 1}, p.Members)

	h.healthy.Store(true)
	n, p, err := h.batches.Retry(ctx, p.ID, "test")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, "running", p.Status)
	p = h.waitFinished(t, p.ID)
	require.Equal(t, "succeeded", p.Status)
	members, err := h.batches.Members(ctx, p.ID, -1, 10)
	require.NoError(t, err)
	require.Len(t, members, 3)
	require.Equal(t, 1, members[1].Retries)
	var input string
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT input::text FROM baton.runs WHERE id = $1`, members[1].RunID).Scan(&input))
	require.JSONEq(t, `{"order": 7}`, input)

	_, err = h.batches.Cancel(ctx, p.ID, "test")
	require.ErrorIs(t, err, engine.ErrConflict)
}

// TestCancelAndSQLStart: baton.start_batch works from SQL; cancel ends a
// running batch and its members.
func TestCancelAndSQLStart(t *testing.T) {
	t.Parallel()
	h := setup(t)
	ctx := context.Background()
	var id int64
	require.NoError(t, h.pool.QueryRow(ctx,
		`SELECT baton.start_batch('{"members": [{"workflow": "slow"}, {"workflow": "slow", "tags": ["x"]}]}')`).Scan(&id))
	p, err := h.batches.Cancel(ctx, id, "ops")
	require.NoError(t, err)
	require.Equal(t, "cancelled", p.Status)
	require.Equal(t, map[string]int{"cancelled": 2}, p.Members)
	_, err = h.batches.Get(ctx, id+100)
	require.ErrorIs(t, err, engine.ErrNotFound)
}
