-- name: TaskEventListByRun :many
SELECT * FROM baton.task_events WHERE run_id = @run_id::bigint ORDER BY time, id;

-- name: TaskEventMaintainPartitions :one
SELECT baton.maintain_event_partitions(@days_ahead::integer, @retention::interval)::integer AS changed;

-- name: TaskEventListByTask :many
SELECT * FROM baton.task_events WHERE task_id = @task_id::bigint ORDER BY time, id;

-- name: TaskEventInsertSystem :exec
WITH event AS (
    INSERT INTO baton.task_events (kind, queue, actor, data) VALUES (@kind, @queue, @actor, @data)
    RETURNING kind
)
SELECT baton._notify(NULL, event.kind) FROM event;
