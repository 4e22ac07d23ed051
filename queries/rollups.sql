-- name: RollupTaskEvents :one
SELECT baton.rollup_task_events(@max_events::integer)::bigint AS added;

-- name: RollupStateGet :one
SELECT hwm, settled, rolled_at, events_total FROM baton.rollup_state WHERE id = 1;

-- name: RollupPurge :one
SELECT baton.purge_rollups(@retention::interval, @batch::integer)::integer AS deleted;

-- name: RunPurgeFinished :one
SELECT baton.purge_finished_runs(@retention::interval, @batch::integer)::integer AS deleted;

-- name: RollupTotalsList :many
SELECT kind, task_type, events, duration_count, duration_sum_ms, duration_buckets
FROM baton.task_rollup_totals
ORDER BY kind, task_type;

-- name: RollupDurationBounds :one
SELECT baton._duration_bounds_ms()::bigint[] AS bounds;
