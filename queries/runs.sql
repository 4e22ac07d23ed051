-- name: RunStart :one
SELECT run_id, created FROM baton._start_run(@workflow::text, @input::jsonb, @opts::jsonb);

-- name: RunCancel :one
SELECT baton.cancel_run(@id::bigint)::boolean AS cancelled;

-- name: RunGetByID :one
SELECT * FROM baton.runs WHERE id = @id;

-- name: RunList :many
SELECT * FROM baton.runs
WHERE (sqlc.narg('status')::text IS NULL OR status = sqlc.narg('status')::text)
  AND (sqlc.narg('workflow')::text IS NULL OR workflow_name = sqlc.narg('workflow')::text)
  AND (sqlc.narg('before_id')::bigint IS NULL OR id < sqlc.narg('before_id')::bigint)
ORDER BY id DESC
LIMIT @max_rows;

-- name: RunTaskCountsByRuns :many
SELECT run_id, status, count(*)::integer AS count
FROM baton.run_tasks
WHERE run_id = ANY (@run_ids::bigint[])
GROUP BY run_id, status;
