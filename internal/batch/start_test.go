package batch_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/batch"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/testdb"
)

// TestSetBasedStartWritesWhatStartRunWrites: a batch member's run, tasks,
// root job and run_started event are those baton._start_run writes for the
// same member, field by field (ids, times and the job's ids aside).
func TestSetBasedStartWritesWhatStartRunWrites(t *testing.T) {
	t.Parallel()
	pool := testdb.NewPool(t)
	eng := engine.New(pool, engine.Options{})
	ctx := context.Background()
	two := 2
	_, err := eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "quick", Executor: "sim", MaxRetries: &two,
		Defaults: json.RawMessage(`{"min": "1ms"}`)})
	require.NoError(t, err)
	spec, err := engine.ParseSpec([]byte("name: shape\nowner: ops\ntags: [w]\nsla: 1h\nsteps:\n" +
		"- {name: a, type: quick, params: {max: 2ms}, priority: 1}\n" +
		"- {name: b, type: quick, depends_on: [a], max_retries: 0, timeout: 3s}\n" +
		"- {name: c, type: quick}\n"))
	require.NoError(t, err)
	_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
	require.NoError(t, err)

	var batchID int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT baton.start_batch('{"members": [
		{"workflow": "shape", "input": {"n": 1}, "priority": 3, "owner": "me", "tags": ["t1", "t2"], "idempotency_key": "k1"},
		{"workflow": "shape", "input": {"n": 2}}]}')`).Scan(&batchID))
	var ref int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT run_id FROM baton._start_run('shape', '{"n": 1}',
		'{"priority": 3, "owner": "me", "tags": ["t1", "t2"], "idempotency_key": "k2"}', 'batch', $1::bigint::text)`, batchID).Scan(&ref))
	var member int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT run_id FROM baton.batch_members WHERE batch_id = $1 AND idx = 0`, batchID).Scan(&member))

	// Each query returns one JSON document per run; both runs must agree.
	for name, query := range map[string]string{
		"run": `SELECT to_jsonb(r) - 'id' - 'idempotency_key' - 'created_at' - 'started_at' - 'updated_at' - 'sla_deadline'
			FROM baton.runs r WHERE r.id = $1`,
		"tasks": `SELECT jsonb_agg(to_jsonb(t) - 'id' - 'run_id' - 'river_job_id' - 'created_at' - 'queued_at' ORDER BY t.step_index)
			FROM baton.run_tasks t WHERE t.run_id = $1`,
		"jobs": `SELECT jsonb_agg(jsonb_build_object('args', j.args - 'task_id' - 'run_id', 'kind', j.kind, 'queue', j.queue,
				'priority', j.priority, 'max_attempts', j.max_attempts, 'state', j.state) ORDER BY j.id)
			FROM baton.run_tasks t JOIN public.river_job j ON j.id = t.river_job_id WHERE t.run_id = $1`,
		"events": `SELECT jsonb_agg(jsonb_build_object('kind', e.kind, 'priority', e.priority, 'data', e.data) ORDER BY e.id)
			FROM baton.task_events e WHERE e.run_id = $1`,
	} {
		var got, want string
		require.NoError(t, pool.QueryRow(ctx, query, member).Scan(&got), name)
		require.NoError(t, pool.QueryRow(ctx, query, ref).Scan(&want), name)
		require.JSONEq(t, want, got, name)
	}
	// The member without options takes the workflow's.
	var prio int
	var owner string
	var tags []string
	require.NoError(t, pool.QueryRow(ctx, `SELECT r.priority, r.owner, r.tags FROM baton.batch_members m
		JOIN baton.runs r ON r.id = m.run_id WHERE m.batch_id = $1 AND m.idx = 1`, batchID).Scan(&prio, &owner, &tags))
	require.Equal(t, 2, prio)
	require.Equal(t, "ops", owner)
	require.Equal(t, []string{"w"}, tags)
}

// TestBatchIdempotencyKeys: a key matching an earlier run or an earlier
// member (same workflow and input) maps to that run; a key reused with
// another input refuses the batch, naming every such member.
func TestBatchIdempotencyKeys(t *testing.T) {
	t.Parallel()
	h := setup(t)
	ctx := context.Background()
	first, err := h.batches.Start(ctx, batch.Spec{Members: []batch.Member{
		{Workflow: "slow", Input: json.RawMessage(`{"x": 1}`), IdempotencyKey: "a"},
	}}, "test")
	require.NoError(t, err)
	p, err := h.batches.Start(ctx, batch.Spec{Members: []batch.Member{
		{Workflow: "slow", Input: json.RawMessage(`{"x": 1}`), IdempotencyKey: "a"},
		{Workflow: "slow", Input: json.RawMessage(`{"x": 2}`), IdempotencyKey: "b"},
		{Workflow: "slow", Input: json.RawMessage(`{"x": 2}`), IdempotencyKey: "b"},
		{Workflow: "slow", Input: json.RawMessage(`{"x": 3}`)},
	}}, "test")
	require.NoError(t, err)
	firstMembers, err := h.batches.Members(ctx, first.ID, -1, 10)
	require.NoError(t, err)
	members, err := h.batches.Members(ctx, p.ID, -1, 10)
	require.NoError(t, err)
	require.Len(t, members, 4)
	require.Equal(t, firstMembers[0].RunID, members[0].RunID, "an earlier run's key")
	require.Equal(t, members[1].RunID, members[2].RunID, "an earlier member's key")
	require.NotEqual(t, members[1].RunID, members[3].RunID)
	// Two new runs, each started once.
	require.Equal(t, 3, h.count(t, `SELECT count(*) FROM baton.runs`))
	require.Equal(t, 3, h.count(t, `SELECT count(*) FROM baton.task_events WHERE kind = 'run_started'`))
	require.Equal(t, 3, h.count(t, `SELECT count(*) FROM public.river_job WHERE kind = 'baton_task'`))

	_, err = h.batches.Start(ctx, batch.Spec{Members: []batch.Member{
		{Workflow: "slow", Input: json.RawMessage(`{"x": 9}`)},
		{Workflow: "slow", Input: json.RawMessage(`{"x": 9}`), IdempotencyKey: "a"},
		{Workflow: "slow", Input: json.RawMessage(`{"x": 5}`), IdempotencyKey: "c"},
		{Workflow: "quick", Input: json.RawMessage(`{"x": 5}`), IdempotencyKey: "c"},
	}}, "test")
	var invalid *engine.ValidationError
	require.True(t, errors.As(err, &invalid), "%v", err)
	require.Len(t, invalid.Problems, 2, "%v", invalid)
	require.Equal(t, "members[1]", invalid.Problems[0].Field)
	require.Contains(t, invalid.Problems[0].Message, "idempotency_key")
	require.Equal(t, "members[3]", invalid.Problems[1].Field)
	require.Contains(t, invalid.Problems[1].Message, "member 2 of this batch")
	require.Equal(t, 3, h.count(t, `SELECT count(*) FROM baton.runs`))
	require.Equal(t, 2, h.count(t, `SELECT count(*) FROM baton.batches`))
}
