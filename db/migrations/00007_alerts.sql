-- Alerting (issue 9, point 5): rules, channels, alerts and their delivery log.
--
-- alert_rules holds the built-in rules (seeded below, builtin = true: they
-- can be changed and disabled, not deleted) and custom threshold rules.
-- An event rule fires on task_events of its kinds; a threshold rule compares
-- a metric aggregated over a window with a threshold. alerts holds at most
-- one open alert (resolved_at IS NULL) per rule and group key: a repeated
-- condition updates it (deduplication) instead of opening another.
--
-- alert_channels keeps secrets (a webhook's signing secret, a Slack incoming
-- webhook URL, an SMTP password) only in secret_sealed: AES-256-GCM with the
-- server's key (BATON_SECRET_KEY), because the server must sign and
-- authenticate with them; they are never returned after creation and never
-- logged. alert_evaluator holds the evaluator's high-water mark over
-- task_events.

-- +goose Up
CREATE TABLE baton.alert_channels (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,99}$'),
    kind          text NOT NULL CHECK (kind IN ('webhook', 'slack', 'email')),
    config        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(config) = 'object'),
    secret_sealed bytea,
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE baton.alert_rules (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,99}$'),
    kind           text NOT NULL CHECK (kind IN ('task_dead', 'run_failed', 'breaker_open', 'dead_letters',
                                                 'sla_at_risk', 'sla_violated', 'quota_exceeded',
                                                 'node_resource_high', 'custom')),
    builtin        boolean NOT NULL DEFAULT false,
    description    text NOT NULL DEFAULT '',
    enabled        boolean NOT NULL DEFAULT true,
    severity       text NOT NULL DEFAULT 'warning' CHECK (severity IN ('info', 'warning', 'critical')),
    -- Threshold rules (dead_letters, custom); NULL for event rules.
    metric         text CHECK (metric IN ('event_count', 'failure_rate', 'task_duration_ms',
                                          'dead_letter_count', 'dead_letter_growth')),
    aggregation    text CHECK (aggregation IN ('count', 'rate', 'avg', 'min', 'max', 'sum', 'p50', 'p95', 'p99')),
    comparison     text CHECK (comparison IN ('gt', 'gte', 'lt', 'lte')),
    threshold      double precision,
    window_seconds integer CHECK (window_seconds BETWEEN 10 AND 604800),
    event_kind     text,
    -- Filters and grouping, for every kind.
    workflow       text NOT NULL DEFAULT '',
    task_type      text NOT NULL DEFAULT '',
    group_by       text NOT NULL DEFAULT 'none' CHECK (group_by IN ('none', 'workflow', 'task_type', 'key')),
    -- Event rules: an open alert resolves when no matching event came for
    -- this long (a breaker alert resolves when the breaker closes).
    resolve_after_seconds integer NOT NULL DEFAULT 600 CHECK (resolve_after_seconds BETWEEN 10 AND 604800),
    channel_ids    bigint[] NOT NULL DEFAULT '{}',
    silenced_until timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE baton.alerts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id         bigint NOT NULL REFERENCES baton.alert_rules (id) ON DELETE CASCADE,
    group_key       text NOT NULL DEFAULT '',
    severity        text NOT NULL,
    summary         text NOT NULL,
    fired_at        timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz,
    acknowledged_at timestamptz,
    acknowledged_by text,
    silenced_until  timestamptz,
    last_value      double precision,
    occurrences     bigint NOT NULL DEFAULT 1,
    last_event_id   bigint
);

CREATE UNIQUE INDEX alerts_open_idx ON baton.alerts (rule_id, group_key) WHERE resolved_at IS NULL;
CREATE INDEX alerts_fired_idx ON baton.alerts (fired_at DESC, id DESC);

CREATE TABLE baton.alert_deliveries (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id    bigint REFERENCES baton.alerts (id) ON DELETE CASCADE,
    channel_id  bigint REFERENCES baton.alert_channels (id) ON DELETE CASCADE,
    event       text NOT NULL CHECK (event IN ('fired', 'resolved', 'test')),
    attempt     integer NOT NULL,
    succeeded   boolean NOT NULL,
    status_code integer,
    error       text,
    duration_ms bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX alert_deliveries_alert_idx ON baton.alert_deliveries (alert_id, id);
CREATE INDEX alert_deliveries_channel_idx ON baton.alert_deliveries (channel_id, id);

-- One row: the highest task_events id the evaluator consumed, and the ids
-- below it that were not visible yet (their transactions were in flight),
-- with when each was first missed (unix milliseconds, a parallel array):
-- they are read again on the next ticks until they appear or are 30 s old
-- (a rolled-back transaction's ids never appear).
CREATE TABLE baton.alert_evaluator (
    id              boolean PRIMARY KEY DEFAULT true CHECK (id),
    last_event_id   bigint NOT NULL,
    pending_ids     bigint[] NOT NULL DEFAULT '{}',
    pending_seen_ms bigint[] NOT NULL DEFAULT '{}',
    evaluated_at    timestamptz
);

INSERT INTO baton.alert_evaluator (last_event_id)
SELECT coalesce(max(id), 0) FROM baton.task_events;

INSERT INTO baton.alert_rules (name, kind, builtin, description, severity, group_by, metric, aggregation,
                               comparison, threshold, window_seconds)
VALUES
    ('task-dead', 'task_dead', true, 'A task failed for good (event task_dead), per workflow.', 'critical', 'workflow',
     NULL, NULL, NULL, NULL, NULL),
    ('run-failed', 'run_failed', true, 'A run failed (event run_failed), per workflow.', 'critical', 'workflow',
     NULL, NULL, NULL, NULL, NULL),
    ('circuit-open', 'breaker_open', true, 'A circuit breaker opened; resolves when it closes.', 'warning', 'key',
     NULL, NULL, NULL, NULL, NULL),
    ('dead-letters', 'dead_letters', true, 'The dead-letter queue holds more than the threshold.', 'warning', 'none',
     'dead_letter_count', 'count', 'gt', 100, 300),
    ('sla-at-risk', 'sla_at_risk', true, 'A run''s SLA is at risk (event sla_at_risk, once scheduling writes it).', 'warning', 'workflow',
     NULL, NULL, NULL, NULL, NULL),
    ('sla-violated', 'sla_violated', true, 'A run missed its SLA (event sla_violated, once scheduling writes it).', 'critical', 'workflow',
     NULL, NULL, NULL, NULL, NULL),
    ('quota-exceeded', 'quota_exceeded', true, 'A quota was exceeded (event quota_exceeded, once quotas write it).', 'warning', 'key',
     NULL, NULL, NULL, NULL, NULL),
    ('node-resource-high', 'node_resource_high', true, 'A node''s CPU, memory or disk is above 90 % (event node_resource_high, once node metrics write it).', 'warning', 'key',
     NULL, NULL, NULL, NULL, NULL);

-- +goose Down
DROP TABLE IF EXISTS baton.alert_evaluator;
DROP TABLE IF EXISTS baton.alert_deliveries;
DROP TABLE IF EXISTS baton.alerts;
DROP TABLE IF EXISTS baton.alert_rules;
DROP TABLE IF EXISTS baton.alert_channels;
