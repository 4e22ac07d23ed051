-- Rollups of task_events, retention support, and the analyst surface: stable
-- views in schema baton and the read-only role baton_analyst (ADR 0009).
--
-- Rollups: task_rollup_1m and task_rollup_1h hold, per time bucket,
-- workflow, task type, owner, node and event kind, the number of events and
-- the count, sum, min, max and histogram of their durations. task_rollup_totals
-- holds the same since the beginning per kind and task type (never trimmed by
-- retention: the Prometheus counters read it). The periodic job
-- baton_rollup (baton.rollup_task_events) adds the events past a high-water
-- mark on task_events.id; nothing rescans the log. On TimescaleDB the same
-- tables are kept (continuous aggregates cannot join runs and run_tasks for
-- workflow, owner and task type) and two continuous aggregates over the
-- hypertable alone (per kind, node and queue) are added.

-- +goose Up

-- duration_buckets are counts per histogram bucket of baton._duration_bounds_ms()
-- (db/functions/_duration_bounds_ms.sql).
CREATE TABLE baton.task_rollup_1m (
    bucket           timestamptz NOT NULL,
    workflow_name    text NOT NULL,
    task_type        text NOT NULL,
    owner            text NOT NULL,
    node             text NOT NULL,
    kind             text NOT NULL,
    events           bigint NOT NULL,
    duration_count   bigint NOT NULL,
    duration_sum_ms  bigint NOT NULL,
    duration_min_ms  bigint,
    duration_max_ms  bigint,
    duration_buckets bigint[] NOT NULL,
    PRIMARY KEY (bucket, workflow_name, task_type, owner, node, kind)
);

CREATE TABLE baton.task_rollup_1h (LIKE baton.task_rollup_1m INCLUDING ALL);

CREATE TABLE baton.task_rollup_totals (
    kind             text NOT NULL,
    task_type        text NOT NULL,
    events           bigint NOT NULL,
    duration_count   bigint NOT NULL,
    duration_sum_ms  bigint NOT NULL,
    duration_buckets bigint[] NOT NULL,
    PRIMARY KEY (kind, task_type)
);

-- rollup_state is the rollup job's one row: every event with id <= hwm has
-- been rolled up; every event with id <= settled is committed or will never
-- be (rolled up next when hwm < settled). pending_limit/pending_xmax is a candidate high-water mark:
-- the last event id handed out when the candidate was taken, and the
-- snapshot xmax at that moment; once every transaction older than
-- pending_xmax has ended, no event with id <= pending_limit can still appear.
CREATE TABLE baton.rollup_state (
    id            integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    hwm           bigint NOT NULL DEFAULT 0,
    settled       bigint NOT NULL DEFAULT 0,
    pending_limit bigint,
    pending_xmax  xid8,
    rolled_at     timestamptz,
    events_total  bigint NOT NULL DEFAULT 0
);
INSERT INTO baton.rollup_state (id) VALUES (1);

-- Deleting old runs cascades to dead_letters by run_id: without this index
-- each deleted run would scan dead_letters.
CREATE INDEX dead_letters_run_idx ON baton.dead_letters (run_id);

-- Analyst views. Their columns are a contract (docs/sql.md): add columns at
-- the end, never rename or drop one without a deprecation. Params, outputs and
-- inputs are left out: they may hold secrets.

CREATE VIEW baton.v_runs AS
SELECT r.id, r.workflow_name, r.workflow_version, r.status, r.priority, r.owner, r.tags,
       r.trigger, r.trigger_ref, r.error, r.attention, r.tasks_total,
       r.created_at, r.started_at, r.finished_at,
       (extract(epoch FROM r.finished_at - coalesce(r.started_at, r.created_at)) * 1000)::bigint AS duration_ms
FROM baton.runs r;
COMMENT ON VIEW baton.v_runs IS 'One row per run (baton.runs without its input). duration_ms: finished_at - started_at.';

CREATE VIEW baton.v_tasks AS
SELECT t.id, t.run_id, r.workflow_name, r.workflow_version, r.owner, t.step_name, t.step_index, t.task_type,
       t.executor, t.status, t.when_cond, t.depends_on, t.optional, t.priority, t.queue, t.attempts,
       t.max_attempts, t.error, t.error_class, t.created_at, t.queued_at, t.started_at, t.finished_at,
       (extract(epoch FROM t.started_at - t.queued_at) * 1000)::bigint AS wait_ms,
       (extract(epoch FROM t.finished_at - t.started_at) * 1000)::bigint AS duration_ms
FROM baton.run_tasks t
JOIN baton.runs r ON r.id = t.run_id;
COMMENT ON VIEW baton.v_tasks IS 'One row per task of a run (no params or output). wait_ms: queued to first start; duration_ms: first start to finish, retries included.';

CREATE VIEW baton.v_task_events AS
SELECT e.id, e.time, e.run_id, e.task_id, e.step_name, e.kind, e.attempt, e.duration_ms, e.error,
       e.error_class, e.node, e.queue, e.priority, e.actor, e.data
FROM baton.task_events e;
COMMENT ON VIEW baton.v_task_events IS 'The event log: every attempt, outcome and operator action. Kept for the retention period (90 days by default).';

CREATE VIEW baton.v_dead_letters AS
SELECT d.id, d.task_id, d.run_id, d.workflow_name, d.workflow_version, d.step_name, d.task_type, d.error,
       d.error_class, d.attempts, d.first_failed_at, d.last_failed_at, d.created_at
FROM baton.dead_letters d;
COMMENT ON VIEW baton.v_dead_letters IS 'Tasks that failed for good and wait for an operator (no params).';

CREATE VIEW baton.v_daily_workflow_stats AS
SELECT date_trunc('day', r.finished_at) AS day, r.workflow_name,
       count(*) AS runs,
       count(*) FILTER (WHERE r.status = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE r.status = 'failed') AS failed,
       count(*) FILTER (WHERE r.status = 'cancelled') AS cancelled,
       round(count(*) FILTER (WHERE r.status = 'succeeded')::numeric / count(*), 4) AS success_rate,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.finished_at - coalesce(r.started_at, r.created_at)) * 1000) AS p50_duration_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM r.finished_at - coalesce(r.started_at, r.created_at)) * 1000) AS p95_duration_ms
FROM baton.runs r
WHERE r.finished_at IS NOT NULL
GROUP BY 1, 2;
COMMENT ON VIEW baton.v_daily_workflow_stats IS 'Finished runs per day (UTC of the session time zone) and workflow: outcomes, success rate, p50/p95 duration.';

-- v_cost prices each finished task: its task type's cost_per_second times the
-- seconds its attempts ran (sum of attempt durations from task_events) plus
-- cost_per_run once. The cost columns are read through to_jsonb so the view
-- works before and after migration 00006 adds them to task_types (NULL cost
-- until then) and does not depend on them.
CREATE VIEW baton.v_cost AS
WITH prices AS (
    SELECT tt.name,
           (to_jsonb(tt) ->> 'cost_per_second')::numeric AS cost_per_second,
           (to_jsonb(tt) ->> 'cost_per_run')::numeric AS cost_per_run
    FROM baton.task_types tt
)
SELECT t.id AS task_id, t.run_id, r.workflow_name, r.owner, t.task_type, t.status, t.finished_at,
       coalesce(a.run_ms, 0) AS run_ms,
       p.cost_per_second, p.cost_per_run,
       CASE WHEN p.cost_per_second IS NULL AND p.cost_per_run IS NULL THEN NULL
            ELSE coalesce(p.cost_per_second, 0) * coalesce(a.run_ms, 0) / 1000.0 + coalesce(p.cost_per_run, 0)
       END AS cost
FROM baton.run_tasks t
JOIN baton.runs r ON r.id = t.run_id
LEFT JOIN prices p ON p.name = t.task_type
LEFT JOIN LATERAL (
    SELECT sum(e.duration_ms) AS run_ms
    FROM baton.task_events e
    WHERE e.task_id = t.id AND e.kind IN ('task_succeeded', 'task_attempt_failed', 'task_dead', 'task_attempt_interrupted')
) a ON true
WHERE t.finished_at IS NOT NULL;
COMMENT ON VIEW baton.v_cost IS 'Cost of each finished task: cost_per_second x seconds of its attempts + cost_per_run (NULL when its task type has no price).';

CREATE VIEW baton.v_task_rollup_1m AS
SELECT bucket, workflow_name, task_type, owner, node, kind, events, duration_count, duration_sum_ms,
       duration_min_ms, duration_max_ms, duration_buckets
FROM baton.task_rollup_1m;
COMMENT ON VIEW baton.v_task_rollup_1m IS 'Events per minute, workflow, task type, owner, node and kind, with duration stats (histogram bounds: baton._duration_bounds_ms()). Trails the log by about a minute.';

CREATE VIEW baton.v_task_rollup_1h AS
SELECT bucket, workflow_name, task_type, owner, node, kind, events, duration_count, duration_sum_ms,
       duration_min_ms, duration_max_ms, duration_buckets
FROM baton.task_rollup_1h;
COMMENT ON VIEW baton.v_task_rollup_1h IS 'As v_task_rollup_1m, per hour.';

-- The read-only analyst role: created when the migrating user may create
-- roles, granted SELECT on the views only (views run with their owner's
-- rights, so members read through them and nothing else in schema baton).
-- +goose StatementBegin
DO $$
DECLARE
    v text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'baton_analyst') THEN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
            CREATE ROLE baton_analyst NOLOGIN;
        ELSE
            RAISE NOTICE 'baton: % may not create roles: baton_analyst not created (create it, then re-run the grants in 00008)', current_user;
            RETURN;
        END IF;
    END IF;
    GRANT USAGE ON SCHEMA baton TO baton_analyst;
    FOREACH v IN ARRAY ARRAY['v_runs', 'v_tasks', 'v_task_events', 'v_dead_letters', 'v_daily_workflow_stats',
                             'v_cost', 'v_task_rollup_1m', 'v_task_rollup_1h'] LOOP
        EXECUTE format('GRANT SELECT ON baton.%I TO baton_analyst', v);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- TimescaleDB: continuous aggregates over the hypertable alone (kind, node,
-- queue), refreshed by Timescale's policies. Created only when task_events is
-- a hypertable (migration 00002 made it one).
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
       OR NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE n.nspname = 'baton' AND c.relname = 'task_events' AND c.relkind = 'r') THEN
        RETURN;
    END IF;
    EXECUTE $sql$
        CREATE MATERIALIZED VIEW baton.task_events_cagg_1m WITH (timescaledb.continuous) AS
        SELECT time_bucket(interval '1 minute', time) AS bucket, kind, coalesce(node, '') AS node,
               coalesce(queue, '') AS queue, count(*) AS events, count(duration_ms) AS duration_count,
               coalesce(sum(duration_ms), 0) AS duration_sum_ms, min(duration_ms) AS duration_min_ms,
               max(duration_ms) AS duration_max_ms
        FROM baton.task_events
        GROUP BY 1, 2, 3, 4
        WITH NO DATA
    $sql$;
    EXECUTE $sql$
        CREATE MATERIALIZED VIEW baton.task_events_cagg_1h WITH (timescaledb.continuous) AS
        SELECT time_bucket(interval '1 hour', time) AS bucket, kind, coalesce(node, '') AS node,
               coalesce(queue, '') AS queue, count(*) AS events, count(duration_ms) AS duration_count,
               coalesce(sum(duration_ms), 0) AS duration_sum_ms, min(duration_ms) AS duration_min_ms,
               max(duration_ms) AS duration_max_ms
        FROM baton.task_events
        GROUP BY 1, 2, 3, 4
        WITH NO DATA
    $sql$;
    PERFORM add_continuous_aggregate_policy('baton.task_events_cagg_1m',
        start_offset => interval '2 hours', end_offset => interval '1 minute', schedule_interval => interval '1 minute');
    PERFORM add_continuous_aggregate_policy('baton.task_events_cagg_1h',
        start_offset => interval '3 days', end_offset => interval '1 hour', schedule_interval => interval '15 minutes');
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'baton_analyst') THEN
        GRANT SELECT ON baton.task_events_cagg_1m, baton.task_events_cagg_1h TO baton_analyst;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP MATERIALIZED VIEW IF EXISTS baton.task_events_cagg_1h;
DROP MATERIALIZED VIEW IF EXISTS baton.task_events_cagg_1m;
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'baton_analyst') THEN
        REVOKE ALL ON SCHEMA baton FROM baton_analyst;
    END IF;
END
$$;
-- +goose StatementEnd
DROP VIEW IF EXISTS baton.v_task_rollup_1h, baton.v_task_rollup_1m, baton.v_cost, baton.v_daily_workflow_stats,
    baton.v_dead_letters, baton.v_task_events, baton.v_tasks, baton.v_runs;
DROP INDEX IF EXISTS baton.dead_letters_run_idx;
DROP TABLE IF EXISTS baton.rollup_state, baton.task_rollup_totals, baton.task_rollup_1h, baton.task_rollup_1m;
