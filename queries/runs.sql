-- name: RunStart :one
SELECT run_id, created FROM baton._start_run(@workflow::text, @input::jsonb, @opts::jsonb, @trigger::text, @trigger_ref::text);

-- name: RunCancel :one
SELECT baton.cancel_run(@id::bigint, @actor::text)::boolean AS cancelled;

-- name: RunPause :one
SELECT baton.pause_run(@id::bigint, @actor::text)::boolean AS paused;

-- name: RunResume :one
SELECT baton.resume_run(@id::bigint, @actor::text)::boolean AS resumed;

-- name: RunListAttention :many
-- Served by the partial index runs_attention_id_idx under any plan.
SELECT * FROM baton.runs
WHERE attention IS NOT NULL
  AND id < coalesce(sqlc.narg('before_id')::bigint, 9223372036854775807)
ORDER BY id DESC
LIMIT @max_rows;

-- name: RunGetByID :one
SELECT * FROM baton.runs WHERE id = @id;

-- The run list has one query per combination of filters (the engine picks
-- one), so that each has an index path whatever plan PostgreSQL caches: an
-- `(@x IS NULL OR col = @x)` filter is fast only with custom plans. The
-- cursor is an index condition too (`id < coalesce(@before_id, max)`).

-- name: RunList :many
SELECT * FROM baton.runs
WHERE id < coalesce(sqlc.narg('before_id')::bigint, 9223372036854775807)
ORDER BY id DESC
LIMIT @max_rows;

-- name: RunListByStatus :many
SELECT * FROM baton.runs
WHERE status = @status AND id < coalesce(sqlc.narg('before_id')::bigint, 9223372036854775807)
ORDER BY id DESC
LIMIT @max_rows;

-- name: RunListByWorkflow :many
SELECT * FROM baton.runs
WHERE workflow_name = @workflow AND id < coalesce(sqlc.narg('before_id')::bigint, 9223372036854775807)
ORDER BY id DESC
LIMIT @max_rows;

-- name: RunListByWorkflowStatus :many
SELECT * FROM baton.runs
WHERE workflow_name = @workflow AND status = @status
  AND id < coalesce(sqlc.narg('before_id')::bigint, 9223372036854775807)
ORDER BY id DESC
LIMIT @max_rows;

-- name: RunTaskCountsByRuns :many
SELECT run_id, status, count(*)::integer AS count
FROM baton.run_tasks
WHERE run_id = ANY (@run_ids::bigint[])
GROUP BY run_id, status;

-- name: RunStartMany :batchone
SELECT run_id, created FROM baton._start_run(@workflow::text, @input::jsonb, @opts::jsonb, @trigger::text, @trigger_ref::text);

-- name: RunCountByStatus :one
SELECT count(*)::bigint FROM baton.runs WHERE status = @status;

-- name: RunLatencyStats :one
-- Start-to-first-task latency of runs created at or after @since: from the
-- run's creation to the earliest start of any of its tasks.
SELECT count(*)::bigint AS runs,
       coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY lat), 0)::float8 AS p50_ms,
       coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY lat), 0)::float8 AS p99_ms
FROM (
    SELECT extract(epoch FROM (min(t.started_at) - r.created_at)) * 1000 AS lat
    FROM baton.runs r JOIN baton.run_tasks t ON t.run_id = r.id
    WHERE r.created_at >= @since AND t.started_at IS NOT NULL
    GROUP BY r.id, r.created_at
) s;
