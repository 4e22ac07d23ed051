-- The live event stream (internal/stream): the hub reads task_events by id
-- from a high-water mark, and a reconnecting client's missed events are
-- replayed from the table. Each row carries its run's workflow so that the
-- stream can be filtered by workflow.

-- name: StreamEventsAfter :many
SELECT e.id, e.time, e.run_id, e.task_id, e.step_name, e.kind, e.attempt, e.duration_ms, e.error,
       e.error_class, e.node, e.queue, e.priority, e.actor, e.data, r.workflow_name
FROM baton.task_events e
LEFT JOIN baton.runs r ON r.id = e.run_id
WHERE e.id > @after_id::bigint
ORDER BY e.id
LIMIT @max_rows::integer;

-- name: StreamEventsReplay :many
SELECT e.id, e.time, e.run_id, e.task_id, e.step_name, e.kind, e.attempt, e.duration_ms, e.error,
       e.error_class, e.node, e.queue, e.priority, e.actor, e.data, r.workflow_name
FROM baton.task_events e
LEFT JOIN baton.runs r ON r.id = e.run_id
WHERE e.id > @after_id::bigint AND e.id <= @until_id::bigint
  AND (sqlc.narg(run_id)::bigint IS NULL OR e.run_id = sqlc.narg(run_id)::bigint)
  AND (sqlc.narg(workflow)::text IS NULL OR r.workflow_name = sqlc.narg(workflow)::text)
  AND (cardinality(@kinds::text[]) = 0 OR e.kind = ANY (@kinds::text[]))
ORDER BY e.id
LIMIT @max_rows::integer;

-- name: StreamEventsMaxID :one
SELECT coalesce(max(id), 0)::bigint AS max_id FROM baton.task_events;

-- name: StreamSnapshot :one
-- The current snapshot's xmin (every transaction with a smaller id has
-- ended) and xmax (every transaction with this id or more had not started).
SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax;

-- name: StreamTasksStarted :many
-- The tasks a task_started notice names that are still running, for the
-- stream's transient task_started events.
SELECT t.id, t.run_id, t.step_name, t.attempts, t.started_at, t.priority, t.queue, r.workflow_name
FROM baton.run_tasks t
JOIN baton.runs r ON r.id = t.run_id
WHERE t.id = ANY (@ids::bigint[]) AND t.status = 'running'
ORDER BY t.id;
