-- name: AlertRuleInsert :one
INSERT INTO baton.alert_rules (name, kind, description, enabled, severity, metric, aggregation, comparison, threshold,
                               window_seconds, event_kind, workflow, task_type, group_by, resolve_after_seconds,
                               channel_ids, silenced_until)
VALUES (@name, @kind, @description, @enabled, @severity, sqlc.narg('metric'), sqlc.narg('aggregation'),
        sqlc.narg('comparison'), sqlc.narg('threshold'), sqlc.narg('window_seconds'), sqlc.narg('event_kind'),
        @workflow, @task_type, @group_by, @resolve_after_seconds, @channel_ids::bigint[], sqlc.narg('silenced_until'))
RETURNING *;

-- name: AlertRuleUpdate :one
UPDATE baton.alert_rules
SET description = @description, enabled = @enabled, severity = @severity, metric = sqlc.narg('metric'),
    aggregation = sqlc.narg('aggregation'), comparison = sqlc.narg('comparison'), threshold = sqlc.narg('threshold'),
    window_seconds = sqlc.narg('window_seconds'), event_kind = sqlc.narg('event_kind'), workflow = @workflow,
    task_type = @task_type, group_by = @group_by, resolve_after_seconds = @resolve_after_seconds,
    channel_ids = @channel_ids::bigint[], silenced_until = sqlc.narg('silenced_until'), updated_at = now()
WHERE id = @id
RETURNING *;

-- name: AlertRuleGet :one
SELECT * FROM baton.alert_rules WHERE id = @id;

-- name: AlertRuleList :many
SELECT * FROM baton.alert_rules ORDER BY id;

-- name: AlertRuleListEnabled :many
SELECT * FROM baton.alert_rules WHERE enabled ORDER BY id;

-- name: AlertRuleDelete :execrows
DELETE FROM baton.alert_rules WHERE id = @id AND NOT builtin;

-- name: AlertChannelInsert :one
INSERT INTO baton.alert_channels (name, kind, config, secret_sealed, enabled)
VALUES (@name, @kind, @config, @secret_sealed, @enabled)
RETURNING *;

-- name: AlertChannelUpdate :one
UPDATE baton.alert_channels
SET config = @config, secret_sealed = coalesce(sqlc.narg('secret_sealed'), secret_sealed), enabled = @enabled,
    updated_at = now()
WHERE id = @id
RETURNING *;

-- name: AlertChannelGet :one
SELECT * FROM baton.alert_channels WHERE id = @id;

-- name: AlertChannelList :many
SELECT * FROM baton.alert_channels ORDER BY id;

-- name: AlertChannelsExist :one
SELECT count(*)::integer FROM baton.alert_channels WHERE id = ANY(@ids::bigint[]);

-- name: AlertChannelDelete :execrows
WITH unlinked AS (
    UPDATE baton.alert_rules r SET channel_ids = array_remove(r.channel_ids, @channel_id::bigint), updated_at = now()
    WHERE @channel_id::bigint = ANY(r.channel_ids)
)
DELETE FROM baton.alert_channels c WHERE c.id = @channel_id::bigint;

-- name: AlertEvaluatorLock :one
SELECT * FROM baton.alert_evaluator FOR UPDATE;

-- name: AlertEvaluatorSave :exec
UPDATE baton.alert_evaluator
SET last_event_id = @last_event_id, pending_ids = @pending_ids::bigint[], pending_seen_ms = @pending_seen_ms::bigint[],
    evaluated_at = now();

-- name: AlertEventsAfter :many
-- The events past the high-water mark plus the pending ids, with the
-- workflow and task type they belong to, for event rules.
SELECT e.id, e.time, e.run_id, e.task_id, e.step_name, e.kind, e.error, e.node, e.actor, e.data,
       coalesce(r.workflow_name, '')::text AS workflow, coalesce(t.task_type, '')::text AS task_type
FROM baton.task_events e
LEFT JOIN baton.runs r ON r.id = e.run_id
LEFT JOIN baton.run_tasks t ON t.id = e.task_id
WHERE ((e.id > @after_id AND e.id <= @upto_id) OR e.id = ANY(@pending_ids::bigint[])) AND e.kind = ANY(@kinds::text[])
ORDER BY e.id
LIMIT @max_rows;

-- name: AlertEventIDsAfter :many
-- Every id visible past the high-water mark (any kind), bounded, to find
-- the ids still invisible (their transactions in flight).
SELECT e.id FROM baton.task_events e WHERE e.id > @after_id ORDER BY e.id LIMIT @max_rows;

-- name: AlertEventIDsVisible :many
SELECT e.id FROM baton.task_events e WHERE e.id = ANY(@ids::bigint[]);

-- name: AlertOpenGet :one
SELECT * FROM baton.alerts WHERE rule_id = @rule_id AND group_key = @group_key AND resolved_at IS NULL;

-- name: AlertOpenList :many
SELECT * FROM baton.alerts WHERE rule_id = @rule_id AND resolved_at IS NULL;

-- name: AlertInsert :one
INSERT INTO baton.alerts (rule_id, group_key, severity, summary, fired_at, last_seen_at, last_value, last_event_id,
                          silenced_until)
VALUES (@rule_id, @group_key, @severity, @summary, @now, @now, sqlc.narg('last_value'), sqlc.narg('last_event_id'),
        sqlc.narg('silenced_until'))
RETURNING *;

-- name: AlertTouch :exec
UPDATE baton.alerts
SET last_seen_at = @now, occurrences = occurrences + @add::bigint,
    last_value = coalesce(sqlc.narg('last_value'), last_value),
    last_event_id = coalesce(sqlc.narg('last_event_id'), last_event_id)
WHERE id = @id;

-- name: AlertResolve :one
UPDATE baton.alerts SET resolved_at = @now WHERE id = @id AND resolved_at IS NULL RETURNING *;

-- name: AlertStaleList :many
-- Open alerts of an event rule not seen for its resolve_after.
SELECT * FROM baton.alerts
WHERE rule_id = @rule_id AND resolved_at IS NULL AND last_seen_at < @before;

-- name: AlertAcknowledge :one
UPDATE baton.alerts SET acknowledged_at = coalesce(acknowledged_at, @now), acknowledged_by = coalesce(acknowledged_by, @actor)
WHERE id = @id
RETURNING *;

-- name: AlertSilence :one
UPDATE baton.alerts SET silenced_until = sqlc.narg('until') WHERE id = @id RETURNING *;

-- name: AlertGet :one
SELECT * FROM baton.alerts WHERE id = @id;

-- name: AlertList :many
SELECT * FROM baton.alerts
WHERE (@state::text = '' OR (@state = 'firing' AND resolved_at IS NULL) OR (@state = 'resolved' AND resolved_at IS NOT NULL)
       OR (@state = 'acknowledged' AND acknowledged_at IS NOT NULL AND resolved_at IS NULL))
  AND (sqlc.narg('rule_id')::bigint IS NULL OR rule_id = sqlc.narg('rule_id'))
  AND (sqlc.narg('before_id')::bigint IS NULL OR id < sqlc.narg('before_id'))
ORDER BY id DESC
LIMIT @max_rows;

-- name: AlertEventInsert :exec
-- The alert's event in the log (run_id NULL, like breaker events), and its notice.
WITH ev AS (
    INSERT INTO baton.task_events (kind, actor, data) VALUES (@kind, sqlc.narg('actor'), @data::jsonb)
)
SELECT pg_notify('baton_events', json_build_object('kind', @kind::text, 'alert_id', @alert_id::bigint)::text);

-- name: AlertDeliveryInsert :exec
INSERT INTO baton.alert_deliveries (alert_id, channel_id, event, attempt, succeeded, status_code, error, duration_ms)
VALUES (sqlc.narg('alert_id'), sqlc.narg('channel_id'), @event, @attempt, @succeeded, sqlc.narg('status_code'),
        sqlc.narg('error'), @duration_ms);

-- name: AlertDeliveryList :many
SELECT * FROM baton.alert_deliveries WHERE alert_id = @alert_id ORDER BY id;

-- name: AlertMetricDeadLetters :many
-- Dead letters now (growth = false) or created within the window (growth = true), by group.
SELECT (CASE @group_by::text WHEN 'workflow' THEN d.workflow_name WHEN 'task_type' THEN d.task_type ELSE '' END)::text AS group_key,
       count(*)::float8 AS value
FROM baton.dead_letters d
WHERE (@workflow::text = '' OR d.workflow_name = @workflow)
  AND (@task_type::text = '' OR d.task_type = @task_type)
  AND (NOT @growth::boolean OR d.created_at > @since)
GROUP BY 1;

-- name: AlertMetricEvents :many
-- Task events in the window by group: the count of one kind, the failure
-- rate of attempts, and aggregates of successful attempts' durations.
SELECT (CASE @group_by::text WHEN 'workflow' THEN coalesce(r.workflow_name, '') WHEN 'task_type' THEN coalesce(t.task_type, '')
        ELSE '' END)::text AS group_key,
       count(*) FILTER (WHERE e.kind = @event_kind::text)::float8 AS kind_count,
       count(*) FILTER (WHERE e.kind IN ('task_attempt_failed', 'task_dead'))::float8 AS failed,
       count(*) FILTER (WHERE e.kind IN ('task_attempt_failed', 'task_dead', 'task_succeeded'))::float8 AS finished,
       coalesce(avg(e.duration_ms) FILTER (WHERE e.kind = 'task_succeeded'), 0)::float8 AS dur_avg,
       coalesce(min(e.duration_ms) FILTER (WHERE e.kind = 'task_succeeded'), 0)::float8 AS dur_min,
       coalesce(max(e.duration_ms) FILTER (WHERE e.kind = 'task_succeeded'), 0)::float8 AS dur_max,
       coalesce(sum(e.duration_ms) FILTER (WHERE e.kind = 'task_succeeded'), 0)::float8 AS dur_sum,
       coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY e.duration_ms) FILTER (WHERE e.kind = 'task_succeeded'), 0)::float8 AS dur_p50,
       coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY e.duration_ms) FILTER (WHERE e.kind = 'task_succeeded'), 0)::float8 AS dur_p95,
       coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY e.duration_ms) FILTER (WHERE e.kind = 'task_succeeded'), 0)::float8 AS dur_p99,
       count(*) FILTER (WHERE e.kind = 'task_succeeded')::float8 AS succeeded
FROM baton.task_events e
LEFT JOIN baton.runs r ON r.id = e.run_id
LEFT JOIN baton.run_tasks t ON t.id = e.task_id
WHERE e.time > @since
  AND e.kind IN (@event_kind::text, 'task_attempt_failed', 'task_dead', 'task_succeeded')
  AND (@workflow::text = '' OR r.workflow_name = @workflow)
  AND (@task_type::text = '' OR t.task_type = @task_type)
GROUP BY 1;

-- name: AlertOpenOfDisabledRules :many
-- Open alerts of disabled rules: the evaluator resolves them (nothing sent).
SELECT a.* FROM baton.alerts a JOIN baton.alert_rules r ON r.id = a.rule_id
WHERE a.resolved_at IS NULL AND NOT r.enabled;
