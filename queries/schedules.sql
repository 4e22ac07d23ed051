-- name: ScheduleInsert :one
INSERT INTO baton.schedules (name, workflow, cron, time_zone, input, description, enabled, start_at, end_at,
                             jitter_ms, overlap, catchup, max_catchup, priority, cursor_at, next_due_at)
VALUES (@name, @workflow, @cron, @time_zone, @input, @description, @enabled, sqlc.narg('start_at'),
        sqlc.narg('end_at'), @jitter_ms, @overlap, @catchup, @max_catchup, sqlc.narg('priority'), @cursor_at, NULL)
RETURNING *;

-- name: ScheduleUpdate :one
-- Replaces a schedule's settings. When its timing (cron, zone) changes the
-- cursor moves to @cursor_at so that the new expression does not count the
-- time before the change as missed.
UPDATE baton.schedules
SET workflow = @workflow, input = @input, description = @description, enabled = @enabled,
    start_at = sqlc.narg('start_at'), end_at = sqlc.narg('end_at'), jitter_ms = @jitter_ms, overlap = @overlap,
    catchup = @catchup, max_catchup = @max_catchup, priority = sqlc.narg('priority'),
    cursor_at = CASE WHEN cron <> @cron OR time_zone <> @time_zone THEN greatest(cursor_at, @cursor_at)
                     ELSE cursor_at END,
    cron = @cron, time_zone = @time_zone, next_due_at = NULL, last_error = NULL, updated_at = now()
WHERE name = @name
RETURNING *;

-- name: ScheduleGet :one
SELECT * FROM baton.schedules WHERE name = @name;

-- name: ScheduleList :many
SELECT * FROM baton.schedules ORDER BY name;

-- name: ScheduleDelete :execrows
DELETE FROM baton.schedules WHERE name = @name;

-- name: ScheduleSetEnabled :one
SELECT baton.set_schedule_enabled(@name, @enabled)::boolean AS changed;

-- name: ScheduleListDue :many
-- The tick's query: enabled schedules whose next fire is due, or whose next
-- fire must be computed (next_due_at NULL).
SELECT name FROM baton.schedules
WHERE enabled AND (next_due_at IS NULL OR next_due_at <= @now::timestamptz)
ORDER BY next_due_at NULLS FIRST
LIMIT @max_rows;

-- name: ScheduleLockDue :one
-- Locks one due schedule; another node holding it makes this return no row.
SELECT * FROM baton.schedules
WHERE name = @name AND enabled AND (next_due_at IS NULL OR next_due_at <= @now::timestamptz)
FOR UPDATE SKIP LOCKED;

-- name: ScheduleLock :one
SELECT * FROM baton.schedules WHERE name = @name FOR UPDATE;

-- name: ScheduleAdvance :exec
UPDATE baton.schedules
SET cursor_at = @cursor_at, next_due_at = sqlc.narg('next_due_at'), last_error = sqlc.narg('last_error')
WHERE name = @name;

-- name: ScheduleFireInsert :execrows
INSERT INTO baton.schedule_fires (schedule, fire_time, due_at, status, kind)
VALUES (@schedule, @fire_time, @due_at, @status, @kind)
ON CONFLICT (schedule, fire_time) DO NOTHING;

-- name: ScheduleFireStarted :exec
UPDATE baton.schedule_fires SET status = 'started', run_id = @run_id, started_at = now()
WHERE schedule = @schedule AND fire_time = @fire_time;

-- name: ScheduleActiveRuns :many
-- Runs of the schedule's last 20 started fires that have not finished.
SELECT r.id FROM (
    SELECT f.run_id FROM baton.schedule_fires f
    WHERE f.schedule = @schedule AND f.run_id IS NOT NULL
    ORDER BY f.fire_time DESC LIMIT 20
) f JOIN baton.runs r ON r.id = f.run_id
WHERE r.status IN ('queued', 'running', 'paused')
ORDER BY r.id;

-- name: ScheduleQueuedFires :many
SELECT fire_time, due_at, kind FROM baton.schedule_fires
WHERE schedule = @schedule AND status = 'queued'
ORDER BY fire_time;

-- name: ScheduleFireTimes :many
SELECT fire_time FROM baton.schedule_fires
WHERE schedule = @schedule AND fire_time BETWEEN @from_time::timestamptz AND @to_time::timestamptz;

-- name: ScheduleHistory :many
-- The same rows as baton.schedule_history (typed for sqlc).
SELECT f.fire_time, f.due_at, f.status, f.kind, f.started_at, f.run_id, r.status AS run_status
FROM baton.schedule_fires f
LEFT JOIN baton.runs r ON r.id = f.run_id
WHERE f.schedule = @name
ORDER BY f.fire_time DESC
LIMIT @max_rows;

-- name: ScheduleFireMissed :exec
UPDATE baton.schedule_fires SET status = 'missed' WHERE schedule = @schedule AND fire_time = @fire_time;
