-- name: DeadLetterList :many
SELECT * FROM baton.dead_letters
WHERE (sqlc.narg('workflow')::text IS NULL OR workflow_name = sqlc.narg('workflow')::text)
  AND (sqlc.narg('task_type')::text IS NULL OR task_type = sqlc.narg('task_type')::text)
  AND (sqlc.narg('error_class')::text IS NULL OR error_class = sqlc.narg('error_class')::text)
  AND (sqlc.narg('since')::timestamptz IS NULL OR last_failed_at >= sqlc.narg('since')::timestamptz)
  AND (sqlc.narg('until')::timestamptz IS NULL OR last_failed_at < sqlc.narg('until')::timestamptz)
  AND (sqlc.narg('before_id')::bigint IS NULL OR id < sqlc.narg('before_id')::bigint)
ORDER BY id DESC
LIMIT @max_rows;

-- name: DeadLetterGet :one
SELECT * FROM baton.dead_letters WHERE id = @id;

-- name: DeadLetterStats :one
-- The size from the counter rows (no scan), the oldest entry from
-- dead_letters_created_idx.
SELECT (SELECT coalesce(sum(n), 0) FROM baton.dead_letter_counts)::bigint AS size,
       coalesce((SELECT min(created_at) FROM baton.dead_letters), 'epoch')::timestamptz AS oldest;

-- name: DeadLetterResubmit :one
SELECT baton.resubmit_dead_letter(@id::bigint, sqlc.narg('params')::jsonb, @actor::text)::bigint AS task_id;

-- name: DeadLetterDiscard :one
SELECT baton.discard_dead_letter(@id::bigint, @actor::text)::boolean AS discarded;

-- name: DeadLetterPurge :one
SELECT baton.purge_dead_letters(@retention::interval)::integer AS purged;
