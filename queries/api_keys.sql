-- name: APIKeyInsert :one
INSERT INTO baton.api_keys (name, prefix, secret_hash, role, rate_limit, burst, daily_run_quota, expires_at)
VALUES (@name, @prefix, @secret_hash, @role, @rate_limit, @burst, @daily_run_quota, sqlc.narg('expires_at'))
RETURNING *;

-- name: APIKeyGetByPrefix :one
SELECT * FROM baton.api_keys WHERE prefix = @prefix;

-- name: APIKeyGetByName :one
SELECT * FROM baton.api_keys WHERE name = @name;

-- name: APIKeyList :many
SELECT * FROM baton.api_keys ORDER BY name;

-- name: APIKeyCountUsable :one
SELECT count(*) FROM baton.api_keys
WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > @now::timestamptz);

-- name: APIKeyRotate :one
UPDATE baton.api_keys SET prefix = @prefix, secret_hash = @secret_hash, rotated_at = @now::timestamptz
WHERE name = @name AND revoked_at IS NULL
RETURNING *;

-- name: APIKeyRevoke :one
UPDATE baton.api_keys SET revoked_at = coalesce(revoked_at, @now::timestamptz)
WHERE name = @name
RETURNING *;

-- name: APIKeyTouch :exec
UPDATE baton.api_keys k SET last_used_at = greatest(k.last_used_at, u.used_at)
FROM (SELECT unnest(@ids::bigint[]) AS id, unnest(@used_at::timestamptz[]) AS used_at) AS u
WHERE k.id = u.id;

-- name: APIKeyUsageTake :one
-- Counts @runs runs against the key's day, all or none: no row comes back
-- when they would take it past @quota.
INSERT INTO baton.api_key_usage AS u (key_id, day, runs)
SELECT @key_id, @day::date, @runs::integer WHERE @runs::integer <= @quota::integer
ON CONFLICT (key_id, day) DO UPDATE SET runs = u.runs + EXCLUDED.runs WHERE u.runs + EXCLUDED.runs <= @quota::integer
RETURNING runs;

-- name: APIKeyUsageRefund :exec
UPDATE baton.api_key_usage SET runs = greatest(runs - @runs::integer, 0) WHERE key_id = @key_id AND day = @day::date;

-- name: APIKeyUsageGet :one
SELECT coalesce((SELECT runs FROM baton.api_key_usage WHERE key_id = @key_id AND day = @day::date), 0)::integer AS runs;

-- name: RateLimitTake :one
SELECT t.granted::integer AS granted, t.tokens::double precision AS tokens
FROM baton.rate_limit_take(@subject, @capacity::double precision,
    @per_second::double precision, @want::integer, @now::timestamptz, @returned::integer) AS t (granted, tokens);

-- name: RateLimitNotice :one
-- RateLimitNotice writes a rate_limited or quota_exceeded event for subject
-- unless one was written in the minute before now, and returns how many it
-- wrote (0 or 1).
WITH notice AS (
    INSERT INTO baton.rate_limit_notices AS n (subject, kind, last_at) VALUES (@subject, @kind, @now::timestamptz)
    ON CONFLICT (subject, kind) DO UPDATE SET last_at = EXCLUDED.last_at
    WHERE n.last_at <= EXCLUDED.last_at - interval '1 minute'
    RETURNING kind
), event AS (
    INSERT INTO baton.task_events (time, kind, actor, data)
    SELECT @now::timestamptz, notice.kind, @actor, @data::jsonb FROM notice
    RETURNING kind
)
SELECT count(*)::integer FROM (SELECT baton._notify(NULL, event.kind) FROM event) AS notified;

-- name: APISessionInsert :exec
INSERT INTO baton.api_sessions (token_hash, key_id, csrf_token, created_at, expires_at)
VALUES (@token_hash, @key_id, @csrf_token, @now::timestamptz, @expires_at::timestamptz);

-- name: APISessionGet :one
SELECT s.csrf_token, s.expires_at AS session_expires_at, sqlc.embed(k)
FROM baton.api_sessions s JOIN baton.api_keys k ON k.id = s.key_id
WHERE s.token_hash = @token_hash;

-- name: APISessionDelete :exec
DELETE FROM baton.api_sessions WHERE token_hash = @token_hash;

-- name: APISessionPurge :exec
DELETE FROM baton.api_sessions WHERE expires_at < @now::timestamptz;

-- name: APISessionDeleteByKey :exec
DELETE FROM baton.api_sessions WHERE key_id = @key_id;
