-- name: TaskEventListByRun :many
SELECT * FROM baton.task_events WHERE run_id = @run_id::bigint ORDER BY time, id;

-- name: TaskEventMaintainPartitions :one
SELECT baton.maintain_event_partitions(@days_ahead::integer, @retention::interval)::integer AS changed;

-- name: TaskEventListByTask :many
-- Through the run's events (task_events_run_idx): events have no index by task.
SELECT e.* FROM baton.task_events e
WHERE e.run_id = (SELECT t.run_id FROM baton.run_tasks t WHERE t.id = @task_id::bigint)
  AND e.task_id = @task_id::bigint
ORDER BY e.time, e.id;

-- name: TaskEventInsertSystem :exec
WITH event AS (
    INSERT INTO baton.task_events (kind, queue, actor, data) VALUES (@kind, @queue, @actor, @data)
    RETURNING kind
)
SELECT baton._notify(NULL, event.kind) FROM event;
