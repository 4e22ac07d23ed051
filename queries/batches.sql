-- name: BatchStart :one
SELECT baton.start_batch(@spec::jsonb, @actor::text)::bigint AS id;

-- name: BatchGet :one
SELECT * FROM baton.batches WHERE id = @id;

-- name: BatchRunCounts :many
-- The batch's members by their run's status, with the runs' task totals and
-- first start.
SELECT r.status, count(*)::bigint AS runs, coalesce(sum(r.tasks_total), 0)::bigint AS tasks_total,
       coalesce(min(r.started_at), min(r.created_at))::timestamptz AS first_started
FROM baton.batch_members m
JOIN baton.runs r ON r.id = m.run_id
WHERE m.batch_id = @batch_id
GROUP BY r.status;

-- name: BatchTasksDone :one
SELECT count(*)::bigint
FROM baton.batch_members m
JOIN baton.run_tasks t ON t.run_id = m.run_id
WHERE m.batch_id = @batch_id AND t.status IN ('succeeded', 'failed', 'skipped', 'cancelled', 'dead')
  AND t.compensates IS NULL;

-- name: BatchMembers :many
SELECT m.idx, m.run_id, m.retries, r.workflow_name, r.status, r.error
FROM baton.batch_members m
JOIN baton.runs r ON r.id = m.run_id
WHERE m.batch_id = @batch_id AND m.idx > @after_idx
ORDER BY m.idx
LIMIT @max_rows;

-- name: BatchCancel :one
SELECT baton.cancel_batch(@id::bigint, @actor::text)::boolean AS cancelled;

-- name: BatchRetry :one
SELECT baton.retry_batch(@id::bigint, @actor::text)::integer AS retried;

-- name: BatchCheck :one
SELECT baton.check_batches(@max_batches::integer)::integer AS ended;
