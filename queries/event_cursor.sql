-- name: EventCursorIDsAfter :many
-- Every id visible past a reader's high-water mark (any kind), bounded, to
-- find the ids still invisible (their transactions in flight).
SELECT e.id FROM baton.task_events e WHERE e.id > @after_id ORDER BY e.id LIMIT @max_rows;

-- name: EventCursorIDsVisible :many
SELECT e.id FROM baton.task_events e WHERE e.id = ANY(@ids::bigint[]);

-- name: EventCursorMaxID :one
SELECT coalesce(max(e.id), 0)::bigint FROM baton.task_events e;
