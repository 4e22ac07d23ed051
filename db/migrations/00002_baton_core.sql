-- Baton's core model: task types, versioned workflows, runs, run tasks and the
-- task event log. River's own tables are created by migration 1 (a Go
-- migration that runs River's migrator) and live in the public schema.

-- +goose Up
CREATE SCHEMA IF NOT EXISTS baton;

CREATE TABLE baton.task_types (
    name                 text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,99}$'),
    executor             text NOT NULL CHECK (executor IN ('http', 'exec', 'go', 'sleep', 'sim')),
    description          text NOT NULL DEFAULT '',
    defaults             jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(defaults) = 'object'),
    max_retries          integer NOT NULL DEFAULT 3 CHECK (max_retries BETWEEN 0 AND 25),
    timeout_ms           bigint NOT NULL DEFAULT 300000 CHECK (timeout_ms > 0),
    priority             smallint NOT NULL DEFAULT 2 CHECK (priority BETWEEN 1 AND 4),
    queue                text NOT NULL DEFAULT 'default',
    permanent_exit_codes integer[],
    backoff              jsonb,
    circuit_breaker      jsonb,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE baton.workflows (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,99}$'),
    version     integer NOT NULL CHECK (version > 0),
    description text NOT NULL DEFAULT '',
    priority    smallint NOT NULL DEFAULT 2 CHECK (priority BETWEEN 1 AND 4),
    owner       text NOT NULL DEFAULT '',
    tags        text[] NOT NULL DEFAULT '{}',
    definition  jsonb NOT NULL,
    checksum    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, version)
);

-- workflow_steps holds a workflow version's steps as rows so that starting a
-- run is one set-based insert. Task type defaults are resolved at run start.
CREATE TABLE baton.workflow_steps (
    workflow_id bigint NOT NULL REFERENCES baton.workflows (id) ON DELETE CASCADE,
    step_index  integer NOT NULL,
    name        text NOT NULL,
    task_type   text NOT NULL REFERENCES baton.task_types (name),
    params      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params) = 'object'),
    depends_on  text[] NOT NULL DEFAULT '{}',
    when_cond   text NOT NULL DEFAULT 'on_success' CHECK (when_cond IN ('on_success', 'on_failure', 'always')),
    max_retries integer CHECK (max_retries BETWEEN 0 AND 25),
    timeout_ms  bigint CHECK (timeout_ms > 0),
    priority    smallint CHECK (priority BETWEEN 1 AND 4),
    optional    boolean NOT NULL DEFAULT false,
    backoff     jsonb,
    PRIMARY KEY (workflow_id, name),
    UNIQUE (workflow_id, step_index)
);

CREATE TABLE baton.runs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id      bigint NOT NULL REFERENCES baton.workflows (id),
    workflow_name    text NOT NULL,
    workflow_version integer NOT NULL,
    status           text NOT NULL CHECK (status IN ('queued', 'running', 'paused', 'succeeded', 'failed', 'cancelled')),
    priority         smallint NOT NULL CHECK (priority BETWEEN 1 AND 4),
    input            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(input) = 'object'),
    trigger          text NOT NULL DEFAULT 'api' CHECK (trigger IN ('api', 'sql', 'schedule', 'event', 'batch', 'library')),
    trigger_ref      text,
    idempotency_key  text UNIQUE,
    owner            text NOT NULL DEFAULT '',
    tags             text[] NOT NULL DEFAULT '{}',
    error            text,
    tasks_total      integer NOT NULL,
    attention        text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX runs_status_id_idx ON baton.runs (status, id DESC);
CREATE INDEX runs_workflow_id_idx ON baton.runs (workflow_name, id DESC);

-- run_tasks is one step of one run. Everything a worker needs to execute it
-- is resolved here at run start (task type defaults merged with step
-- overrides), so a task never reads the workflow definition again.
CREATE TABLE baton.run_tasks (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id               bigint NOT NULL REFERENCES baton.runs (id) ON DELETE CASCADE,
    step_name            text NOT NULL,
    step_index           integer NOT NULL,
    task_type            text NOT NULL,
    executor             text NOT NULL,
    status               text NOT NULL CHECK (status IN ('pending', 'queued', 'running', 'succeeded', 'failed', 'skipped', 'cancelled', 'dead')),
    when_cond            text NOT NULL,
    depends_on           text[] NOT NULL DEFAULT '{}',
    deps_pending         integer NOT NULL,
    optional             boolean NOT NULL DEFAULT false,
    params               jsonb NOT NULL DEFAULT '{}',
    resolved_params      jsonb,
    priority             smallint NOT NULL,
    queue                text NOT NULL,
    max_attempts         integer NOT NULL,
    timeout_ms           bigint NOT NULL,
    permanent_exit_codes integer[],
    backoff              jsonb,
    circuit_breaker      jsonb,
    manual_skip          boolean NOT NULL DEFAULT false,
    attempts             integer NOT NULL DEFAULT 0,
    river_job_id         bigint,
    output               jsonb,
    error                text,
    error_class          text CHECK (error_class IN ('transient', 'permanent')),
    created_at           timestamptz NOT NULL DEFAULT now(),
    queued_at            timestamptz,
    started_at           timestamptz,
    finished_at          timestamptz,
    UNIQUE (run_id, step_name)
) WITH (fillfactor = 80); -- room for HOT updates: a task row changes a few times, no indexed column does

-- dead_letters holds the tasks that failed for good (a permanent error, or
-- retries exhausted) until an operator resubmits or discards them, or they
-- age out (a periodic job purges entries older than the retention).
CREATE TABLE baton.dead_letters (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id          bigint NOT NULL UNIQUE REFERENCES baton.run_tasks (id) ON DELETE CASCADE,
    run_id           bigint NOT NULL REFERENCES baton.runs (id) ON DELETE CASCADE,
    workflow_name    text NOT NULL,
    workflow_version integer NOT NULL,
    step_name        text NOT NULL,
    task_type        text NOT NULL,
    params           jsonb NOT NULL,
    error            text NOT NULL,
    error_class      text NOT NULL,
    attempts         integer NOT NULL,
    first_failed_at  timestamptz NOT NULL,
    last_failed_at   timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX dead_letters_created_idx ON baton.dead_letters (created_at);
CREATE INDEX dead_letters_workflow_idx ON baton.dead_letters (workflow_name, created_at);
CREATE INDEX dead_letters_task_type_idx ON baton.dead_letters (task_type, created_at);

-- task_events is the append-only event log: the retry audit trail, the live
-- feed's replay source and the analytics base. It is declared here as a plain
-- table so that sqlc sees its columns; the block below turns it into a
-- TimescaleDB hypertable when the extension can be created, or into a
-- natively range-partitioned table (daily partitions) otherwise. Both keep
-- exactly these columns.
CREATE SEQUENCE baton.task_events_id_seq;

CREATE TABLE baton.task_events (
    id          bigint NOT NULL DEFAULT nextval('baton.task_events_id_seq'),
    time        timestamptz NOT NULL DEFAULT now(),
    run_id      bigint,
    task_id     bigint,
    step_name   text,
    kind        text NOT NULL,
    attempt     integer,
    duration_ms bigint,
    error       text,
    error_class text,
    node        text,
    queue       text,
    priority    smallint,
    actor       text,
    data        jsonb,
    PRIMARY KEY (id, time)
);

-- +goose StatementBegin
DO $$
BEGIN
    -- CREATE EXTENSION timescaledb without the library preloaded raises a
    -- FATAL error that closes the connection (no handler can catch it), so
    -- the extension is tried only when it is in shared_preload_libraries.
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
       AND current_setting('shared_preload_libraries') !~ '(^|[\s,"/])timescaledb' THEN
        RAISE NOTICE 'timescaledb is installed but not in shared_preload_libraries: using native partitioning';
    ELSIF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS timescaledb;
            PERFORM create_hypertable('baton.task_events', 'time', chunk_time_interval => interval '1 day');
            RETURN;
        EXCEPTION WHEN OTHERS THEN
            -- Installed but not loadable (not in shared_preload_libraries):
            -- fall through to native partitioning.
            RAISE NOTICE 'timescaledb not usable (%), using native partitioning', SQLERRM;
        END;
    END IF;

    ALTER TABLE baton.task_events RENAME TO task_events_template;
    CREATE TABLE baton.task_events (LIKE baton.task_events_template INCLUDING ALL) PARTITION BY RANGE (time);
    DROP TABLE baton.task_events_template;
    ALTER SEQUENCE baton.task_events_id_seq OWNED BY baton.task_events.id;
    CREATE TABLE baton.task_events_default PARTITION OF baton.task_events DEFAULT;
END
$$;
-- +goose StatementEnd

CREATE INDEX task_events_run_idx ON baton.task_events (run_id, time);
CREATE INDEX task_events_task_idx ON baton.task_events (task_id, time) WHERE task_id IS NOT NULL;

-- maintain_event_partitions creates daily partitions of task_events from
-- yesterday to days_ahead days ahead and drops those wholly older than
-- retention. On a hypertable it drops chunks past retention instead. It is
-- safe to call repeatedly and from several nodes (it takes an advisory lock).
-- +goose StatementBegin
CREATE FUNCTION baton.maintain_event_partitions(days_ahead integer DEFAULT 7, retention interval DEFAULT '30 days')
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    day       date;
    part      record;
    changed   integer := 0;
    upper_txt text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('baton.maintain_event_partitions'));

    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
       AND EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = 'baton' AND c.relname = 'task_events' AND c.relkind = 'r') THEN
        EXECUTE format('SELECT count(*) FROM drop_chunks(%L, older_than => now() - %L::interval)',
                       'baton.task_events', retention) INTO changed;
        RETURN changed;
    END IF;

    FOR day IN SELECT generate_series(current_date - 1, current_date + days_ahead, interval '1 day')::date LOOP
        IF to_regclass(format('baton.task_events_p%s', to_char(day, 'YYYYMMDD'))) IS NULL THEN
            EXECUTE format('CREATE TABLE baton.%I PARTITION OF baton.task_events FOR VALUES FROM (%L) TO (%L)',
                           'task_events_p' || to_char(day, 'YYYYMMDD'), day::timestamptz, (day + 1)::timestamptz);
            changed := changed + 1;
        END IF;
    END LOOP;

    FOR part IN
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE i.inhparent = 'baton.task_events'::regclass AND n.nspname = 'baton'
          AND c.relname ~ '^task_events_p[0-9]{8}$'
    LOOP
        upper_txt := substring(part.bound FROM 'TO \(''([^'']+)''\)');
        IF upper_txt IS NOT NULL AND upper_txt::timestamptz <= now() - retention THEN
            EXECUTE format('DROP TABLE baton.%I', part.relname);
            changed := changed + 1;
        END IF;
    END LOOP;
    RETURN changed;
END
$$;
-- +goose StatementEnd

SELECT baton.maintain_event_partitions();

-- +goose Down
DROP FUNCTION IF EXISTS baton.maintain_event_partitions(integer, interval);
DROP TABLE IF EXISTS baton.dead_letters;
DROP TABLE IF EXISTS baton.task_events CASCADE;
DROP SEQUENCE IF EXISTS baton.task_events_id_seq;
DROP TABLE IF EXISTS baton.run_tasks;
DROP TABLE IF EXISTS baton.runs;
DROP TABLE IF EXISTS baton.workflow_steps;
DROP TABLE IF EXISTS baton.workflows;
DROP TABLE IF EXISTS baton.task_types;
DROP SCHEMA IF EXISTS baton;
