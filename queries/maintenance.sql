-- name: DatabaseAnalyze :exec
ANALYZE;

-- name: TaskJobsPurge :one
SELECT baton.purge_task_jobs(@retention::interval, @max_rows::integer)::integer AS purged;
