-- Access control (issue 11): API keys with roles, cluster-wide rate-limit
-- buckets and daily run quotas.
--
-- api_keys stores no key in clear: a key is "baton_<prefix>_<secret>", the
-- prefix (public, unique) finds the row and secret_hash (SHA-256 of the
-- whole key, which holds 256 random bits) proves it. last_used_at is
-- written in batches by each API process, not on every request.
--
-- rate_limit_buckets holds one token bucket per subject ("key:<id>" or
-- "ip:<address>"), shared by every API process: each process leases a few
-- tokens at a time through baton.rate_limit_take (ADR 0010). The table is
-- UNLOGGED: after a crash the buckets start full again, which only forgives
-- the last minute's use.
--
-- api_key_usage counts the runs each key started per UTC day.
-- rate_limit_notices keeps one row per subject and kind so that at most one
-- rate_limited / quota_exceeded event per key and minute is written across
-- the cluster.

-- +goose Up
CREATE TABLE baton.api_keys (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_.@-]{0,99}$'),
    prefix          text NOT NULL UNIQUE CHECK (prefix ~ '^[a-z2-7]{10}$'),
    secret_hash     bytea NOT NULL CHECK (length(secret_hash) = 32),
    role            text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    rate_limit      integer NOT NULL DEFAULT 100 CHECK (rate_limit BETWEEN 1 AND 1000000),
    burst           integer NOT NULL DEFAULT 20 CHECK (burst BETWEEN 0 AND 1000000),
    daily_run_quota integer NOT NULL DEFAULT 1000 CHECK (daily_run_quota BETWEEN 0 AND 100000000),
    created_at      timestamptz NOT NULL DEFAULT now(),
    rotated_at      timestamptz,
    expires_at      timestamptz,
    revoked_at      timestamptz,
    last_used_at    timestamptz
);

-- api_sessions are the dashboard's sign-ins: the cookie holds a random
-- token, the table its SHA-256; csrf_token must come back in the
-- X-Baton-CSRF header of every state-changing request the session makes.
CREATE TABLE baton.api_sessions (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    key_id      bigint NOT NULL REFERENCES baton.api_keys (id) ON DELETE CASCADE,
    csrf_token  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX api_sessions_key_idx ON baton.api_sessions (key_id);

CREATE UNLOGGED TABLE baton.rate_limit_buckets (
    subject    text PRIMARY KEY,
    tokens     double precision NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE baton.api_key_usage (
    key_id bigint NOT NULL REFERENCES baton.api_keys (id) ON DELETE CASCADE,
    day    date NOT NULL,
    runs   integer NOT NULL DEFAULT 0 CHECK (runs >= 0),
    PRIMARY KEY (key_id, day)
);

CREATE UNLOGGED TABLE baton.rate_limit_notices (
    subject text NOT NULL,
    kind    text NOT NULL,
    last_at timestamptz NOT NULL,
    PRIMARY KEY (subject, kind)
);

-- +goose Down
DROP FUNCTION IF EXISTS baton.rate_limit_take(text, double precision, double precision, integer, timestamptz, integer);
DROP TABLE IF EXISTS baton.rate_limit_notices;
DROP TABLE IF EXISTS baton.api_key_usage;
DROP TABLE IF EXISTS baton.api_sessions;
DROP TABLE IF EXISTS baton.rate_limit_buckets;
DROP TABLE IF EXISTS baton.api_keys;
