-- Event triggers (issue 8, point 2): inbound events, the triggers that map
-- them to workflow runs, and the high-water mark of the run-end event feed.
--
-- events is stored like task_events (ADR 0002): a TimescaleDB hypertable
-- when the extension is preloaded, otherwise natively partitioned by day
-- (baton.maintain_inbound_event_partitions creates and drops partitions),
-- with a default partition so that an insert never fails for want of one.
--
-- triggers.condition is a PostgreSQL SQL/JSON path predicate evaluated on
-- the event payload with jsonb_path_match (docs/triggers.md). A webhook
-- secret is kept only in secret_sealed: AES-256-GCM with the server's key
-- (BATON_SECRET_KEY), because verifying an HMAC needs the secret itself.

-- +goose Up
CREATE TABLE baton.triggers (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,99}$'),
    event_type     text NOT NULL CHECK (event_type ~ '^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$'),
    condition      jsonpath,
    workflow       text NOT NULL CHECK (workflow ~ '^[a-z0-9][a-z0-9_.-]{0,99}$'),
    input_template jsonb CHECK (input_template IS NULL OR jsonb_typeof(input_template) = 'object'),
    dedup_window_seconds integer NOT NULL DEFAULT 86400 CHECK (dedup_window_seconds BETWEEN 0 AND 2592000),
    enabled        boolean NOT NULL DEFAULT true,
    secret_sealed  bytea,
    description    text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX triggers_event_type_idx ON baton.triggers (event_type) WHERE enabled;

CREATE SEQUENCE baton.events_id_seq;

CREATE TABLE baton.events (
    id        bigint NOT NULL DEFAULT nextval('baton.events_id_seq'),
    time      timestamptz NOT NULL DEFAULT now(),
    type      text NOT NULL,
    source    text NOT NULL DEFAULT 'api',
    dedup_key text,
    payload   jsonb NOT NULL,
    PRIMARY KEY (id, time)
);

-- +goose StatementBegin
DO $$
DECLARE
    day integer;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
       AND current_setting('shared_preload_libraries') ~ '(^|[\s,"/])timescaledb' THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS timescaledb;
            PERFORM create_hypertable('baton.events', 'time', chunk_time_interval => interval '1 day');
            RETURN;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'timescaledb not usable (%), using native partitioning', SQLERRM;
        END;
    END IF;

    ALTER TABLE baton.events RENAME TO events_template;
    CREATE TABLE baton.events (LIKE baton.events_template INCLUDING ALL) PARTITION BY RANGE (time);
    DROP TABLE baton.events_template;
    ALTER SEQUENCE baton.events_id_seq OWNED BY baton.events.id;
    CREATE TABLE baton.events_default PARTITION OF baton.events DEFAULT;
    -- The first week's daily partitions; the hourly job
    -- (baton.maintain_inbound_event_partitions) keeps them coming.
    FOR day IN 0..8 LOOP
        EXECUTE format('CREATE TABLE baton.%I PARTITION OF baton.events FOR VALUES FROM (%L) TO (%L)',
                       'events_p' || to_char(current_date - 1 + day, 'YYYYMMDD'),
                       (current_date - 1 + day)::timestamptz, (current_date + day)::timestamptz);
    END LOOP;
END
$$;
-- +goose StatementEnd

CREATE INDEX events_time_idx ON baton.events (time);
CREATE INDEX events_type_time_idx ON baton.events (type, time);
CREATE INDEX events_dedup_idx ON baton.events (type, dedup_key, time) WHERE dedup_key IS NOT NULL;

-- trigger_cursors holds high-water marks over task_events (the run-end
-- event feed reads run_succeeded, run_failed and run_cancelled rows).
CREATE TABLE baton.trigger_cursors (
    name       text PRIMARY KEY,
    last_id    bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE IF EXISTS baton.trigger_cursors;
DROP TABLE IF EXISTS baton.events CASCADE;
DROP SEQUENCE IF EXISTS baton.events_id_seq;
DROP TABLE IF EXISTS baton.triggers;
DROP FUNCTION IF EXISTS baton.emit_event(text, jsonb, text);
DROP FUNCTION IF EXISTS baton._insert_event(text, jsonb, text, text);
DROP FUNCTION IF EXISTS baton.maintain_inbound_event_partitions(integer, interval);
