-- Resource-aware placement (issue 8, point 4): task types and steps declare
-- the resources a task reserves (cpu_millis, memory_mb, disk_mb, a JSON
-- object; NULL: none), copied to run_tasks when a run starts and carried in
-- the task's River job args. Each worker process registers in baton.nodes
-- with its capacity and heartbeats its reserved and measured use into
-- baton.node_metrics. A node whose last heartbeat is older than 30 s is gone.
--
-- node_metrics is stored like task_events (ADR 0002): a TimescaleDB
-- hypertable when the extension is preloaded, otherwise natively partitioned
-- by day with a default partition so that an insert never fails
-- (baton.maintain_node_metric_partitions, called by the hourly retention
-- job, creates and drops partitions).

-- +goose Up
ALTER TABLE baton.task_types ADD COLUMN resources jsonb
    CHECK (resources IS NULL OR jsonb_typeof(resources) = 'object');
ALTER TABLE baton.workflow_steps ADD COLUMN resources jsonb
    CHECK (resources IS NULL OR jsonb_typeof(resources) = 'object');
ALTER TABLE baton.run_tasks ADD COLUMN resources jsonb;

CREATE TABLE baton.nodes (
    name              text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 200),
    cpu_millis        bigint NOT NULL CHECK (cpu_millis >= 0),
    memory_mb         bigint NOT NULL CHECK (memory_mb >= 0),
    disk_mb           bigint NOT NULL CHECK (disk_mb >= 0),
    slots             integer NOT NULL DEFAULT 0 CHECK (slots >= 0),
    reserved_cpu_millis bigint NOT NULL DEFAULT 0,
    reserved_memory_mb  bigint NOT NULL DEFAULT 0,
    reserved_disk_mb    bigint NOT NULL DEFAULT 0,
    running           integer NOT NULL DEFAULT 0,
    started_at        timestamptz NOT NULL DEFAULT now(),
    heartbeat_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX nodes_heartbeat_idx ON baton.nodes (heartbeat_at);

CREATE TABLE baton.node_metrics (
    time                timestamptz NOT NULL DEFAULT now(),
    node                text NOT NULL,
    reserved_cpu_millis bigint NOT NULL,
    reserved_memory_mb  bigint NOT NULL,
    reserved_disk_mb    bigint NOT NULL,
    running             integer NOT NULL,
    cpu_millis_used     bigint NOT NULL,
    rss_mb              bigint NOT NULL
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
            PERFORM create_hypertable('baton.node_metrics', 'time', chunk_time_interval => interval '1 day');
            RETURN;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'timescaledb not usable (%), using native partitioning', SQLERRM;
        END;
    END IF;

    ALTER TABLE baton.node_metrics RENAME TO node_metrics_template;
    CREATE TABLE baton.node_metrics (LIKE baton.node_metrics_template INCLUDING ALL) PARTITION BY RANGE (time);
    DROP TABLE baton.node_metrics_template;
    CREATE TABLE baton.node_metrics_default PARTITION OF baton.node_metrics DEFAULT;
    FOR day IN 0..8 LOOP
        EXECUTE format('CREATE TABLE baton.%I PARTITION OF baton.node_metrics FOR VALUES FROM (%L) TO (%L)',
                       'node_metrics_p' || to_char(current_date - 1 + day, 'YYYYMMDD'),
                       (current_date - 1 + day)::timestamptz, (current_date + day)::timestamptz);
    END LOOP;
END
$$;
-- +goose StatementEnd

CREATE INDEX node_metrics_node_time_idx ON baton.node_metrics (node, time);

-- +goose Down
DROP FUNCTION IF EXISTS baton.maintain_node_metric_partitions(integer, interval);
DROP TABLE IF EXISTS baton.node_metrics CASCADE;
DROP TABLE IF EXISTS baton.nodes;
ALTER TABLE baton.run_tasks DROP COLUMN IF EXISTS resources;
ALTER TABLE baton.workflow_steps DROP COLUMN IF EXISTS resources;
ALTER TABLE baton.task_types DROP COLUMN IF EXISTS resources;
