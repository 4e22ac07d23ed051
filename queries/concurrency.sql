-- name: ConcurrencyAcquire :one
SELECT acquired::boolean AS acquired, coalesce(blocked_by, '')::text AS blocked_by
FROM baton.concurrency_acquire(@task_id, @node, @keys::text[], @limits::integer[], @ttl_ms);

-- name: ConcurrencyRelease :exec
DELETE FROM baton.concurrency_leases WHERE task_id = @task_id;

-- name: ConcurrencyLeaseList :many
SELECT key, count(*)::integer AS running, min(acquired_at)::timestamptz AS oldest
FROM baton.concurrency_leases
WHERE expires_at > now()
GROUP BY key
ORDER BY key
LIMIT @max_rows;

-- name: PromoteReserved :one
SELECT baton.promote_reserved(@queue, @reserved_queue, @min_wait_ms, @max_jobs)::integer AS moved;
