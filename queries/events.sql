-- name: EventInsert :one
SELECT e.id, e.time, e.created
FROM baton._insert_event(@event_type::text, @payload::jsonb, sqlc.narg('dedup_key')::text, @source::text) e;

-- name: EventGet :one
SELECT * FROM baton.events WHERE id = @id AND time = @time;

-- name: EventGetByID :one
SELECT * FROM baton.events WHERE id = @id ORDER BY time DESC LIMIT 1;

-- name: EventList :many
SELECT * FROM baton.events
WHERE time >= @from_time AND time < @to_time
  AND (sqlc.narg('event_type')::text IS NULL OR type = sqlc.narg('event_type'))
ORDER BY time, id
LIMIT @max_rows;

-- name: EventMaintainPartitions :one
SELECT baton.maintain_inbound_event_partitions(@days_ahead::integer, @retention::interval)::integer AS changed;

-- name: TriggerCursorGet :one
INSERT INTO baton.trigger_cursors (name, last_id)
VALUES (@name, (SELECT coalesce(max(id), 0) FROM baton.task_events))
ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
RETURNING last_id;

-- name: TriggerCursorLock :one
SELECT last_id FROM baton.trigger_cursors WHERE name = @name FOR UPDATE;

-- name: TriggerCursorSet :exec
UPDATE baton.trigger_cursors SET last_id = @last_id, updated_at = now() WHERE name = @name;

-- name: TaskEventsMaxID :one
SELECT coalesce(max(id), 0)::bigint AS max_id FROM baton.task_events;

-- name: RunEndEventsAfter :many
-- The run-end rows of task_events after from_id (the caller looks back a
-- few hundred ids before its high-water mark, so that a row whose
-- transaction committed after a later id was read is still seen; its event
-- is deduplicated by the task event id), with what a run-end event carries.
SELECT te.id AS task_event_id, te.kind, r.id AS run_id, r.workflow_name, r.workflow_version, r.status,
       r.error, r.trigger, r.trigger_ref, r.input,
       coalesce((SELECT jsonb_object_agg(t.step_name, jsonb_build_object('status', t.status, 'output', t.output))
                 FROM baton.run_tasks t WHERE t.run_id = r.id), '{}')::jsonb AS steps
FROM baton.task_events te
JOIN baton.runs r ON r.id = te.run_id
WHERE te.id > @from_id::bigint
  AND te.kind IN ('run_succeeded', 'run_failed', 'run_cancelled')
  AND te.time > now() - interval '1 day'
ORDER BY te.id
LIMIT @max_rows;
