-- name: CircuitBreakerAcquire :one
SELECT coalesce(a.allowed, false)::boolean AS allowed, coalesce(a.probe, false)::boolean AS probe,
       a.retry_at, a.probe_id
FROM baton.breaker_acquire(@key::text, @failure_rate::float8, @window_size::integer, @cooldown_ms::bigint,
                           @probe_lease_ms::bigint, sqlc.narg('now')::timestamptz) a;

-- name: CircuitBreakerRecord :one
-- Records an outcome in its own transaction, committed asynchronously: a
-- crash may lose the last outcomes (harmless for a breaker), and the hot row
-- is unlocked without waiting for the WAL flush, which about doubles the
-- outcomes one breaker can take per second.
SELECT coalesce(baton.breaker_record(@key::text, @failure_rate::float8, @window_size::integer, @cooldown_ms::bigint,
                                     sqlc.narg('probe_id')::bigint, @failed::boolean,
                                     sqlc.narg('now')::timestamptz), '')::text AS transition,
       set_config('synchronous_commit', 'off', true) AS synchronous_commit;

-- name: CircuitBreakerForce :one
SELECT * FROM baton.breaker_force(@key::text, @open::boolean, @actor::text, sqlc.narg('now')::timestamptz);

-- name: CircuitBreakerGet :one
SELECT * FROM baton.circuit_breakers WHERE key = @key;

-- name: CircuitBreakerList :many
SELECT * FROM baton.circuit_breakers ORDER BY key;
