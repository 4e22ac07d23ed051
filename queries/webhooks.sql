-- name: WebhookInsert :one
INSERT INTO baton.webhooks (url, description, event_types, workflows, owners, tags, enabled, secret_sealed)
VALUES (@url, @description, @event_types::text[], @workflows::text[], @owners::text[], @tags::text[], @enabled,
        @secret_sealed)
RETURNING *;

-- name: WebhookGet :one
SELECT * FROM baton.webhooks WHERE id = @id;

-- name: WebhookList :many
SELECT * FROM baton.webhooks ORDER BY id;

-- name: WebhookListEnabled :many
SELECT * FROM baton.webhooks WHERE enabled ORDER BY id;

-- name: WebhookUpdate :one
-- Re-enabling clears the failure count and the reason it was disabled.
UPDATE baton.webhooks
SET url = @url, description = @description, event_types = @event_types::text[], workflows = @workflows::text[],
    owners = @owners::text[], tags = @tags::text[], enabled = @enabled,
    consecutive_failures = CASE WHEN @enabled AND NOT enabled THEN 0 ELSE consecutive_failures END,
    disabled_reason = CASE WHEN @enabled THEN NULL ELSE disabled_reason END,
    updated_at = now()
WHERE id = @id
RETURNING *;

-- name: WebhookDelete :execrows
DELETE FROM baton.webhooks WHERE id = @id;

-- name: WebhookRotate :one
-- The current secret becomes the previous one, valid until @previous_until.
UPDATE baton.webhooks
SET previous_secret_sealed = secret_sealed, previous_secret_until = @previous_until, secret_sealed = @secret_sealed,
    updated_at = now()
WHERE id = @id
RETURNING *;

-- name: WebhookRecordOutcome :one
-- A delivery's final outcome: success clears the failure count, a failure
-- adds one.
UPDATE baton.webhooks
SET consecutive_failures = CASE WHEN @succeeded::boolean THEN 0 ELSE consecutive_failures + 1 END
WHERE id = @id
RETURNING consecutive_failures, enabled;

-- name: WebhookDisable :exec
-- Disables a subscription that keeps failing, logs webhook_disabled (run_id
-- NULL, like breaker events) for alerting, and notifies.
WITH w AS (
    UPDATE baton.webhooks wh SET enabled = false, disabled_reason = @reason::text, updated_at = now()
    WHERE wh.id = @webhook_id::bigint AND wh.enabled
    RETURNING wh.id, wh.url, wh.consecutive_failures
), ev AS (
    INSERT INTO baton.task_events (kind, data)
    SELECT 'webhook_disabled', jsonb_build_object('webhook_id', w.id, 'url', w.url, 'reason', @reason::text,
                                                  'consecutive_failures', w.consecutive_failures)
    FROM w
)
SELECT pg_notify('baton_events', json_build_object('kind', 'webhook_disabled', 'webhook_id', w.id)::text) FROM w;

-- name: WebhookDispatcherLock :one
SELECT * FROM baton.webhook_dispatcher FOR UPDATE;

-- name: WebhookDispatcherSave :exec
UPDATE baton.webhook_dispatcher
SET last_event_id = @last_event_id, pending_ids = @pending_ids::bigint[], pending_seen_ms = @pending_seen_ms::bigint[],
    dispatched_at = now();

-- name: WebhookEventsAfter :many
-- The events of the wanted kinds past the high-water mark plus the pending
-- ids, with their run's workflow, owner and tags for the filters and the
-- task's type.
SELECT e.id, e.time, e.run_id, e.task_id, e.step_name, e.kind, e.attempt, e.error, e.error_class, e.duration_ms,
       e.data, r.workflow_name, r.owner, r.tags, t.task_type
FROM baton.task_events e
LEFT JOIN baton.runs r ON r.id = e.run_id
LEFT JOIN baton.run_tasks t ON t.id = e.task_id
WHERE ((e.id > @after_id AND e.id <= @upto_id) OR e.id = ANY(@pending_ids::bigint[])) AND e.kind = ANY(@kinds::text[])
ORDER BY e.id
LIMIT @max_rows;

-- name: WebhookRunContexts :many
-- The runs an event batch is about, with their tasks' summary: counts by
-- status, the outputs of the succeeded leaf steps (the run's output) and the
-- first dead or failed task.
SELECT r.id, r.workflow_name, r.workflow_version, r.status, r.priority, r.owner, r.tags, r.trigger, r.trigger_ref,
       r.input, r.error, r.created_at, r.started_at, r.finished_at,
       (SELECT coalesce(jsonb_object_agg(s.status, s.n), '{}')::jsonb
        FROM (SELECT t.status, count(*) AS n FROM baton.run_tasks t WHERE t.run_id = r.id GROUP BY t.status) s
       )::jsonb AS task_counts,
       (SELECT coalesce(jsonb_object_agg(t.step_name, t.output), '{}')::jsonb
        FROM baton.run_tasks t
        WHERE t.run_id = r.id AND t.status = 'succeeded' AND t.output IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM baton.run_tasks c WHERE c.run_id = r.id AND t.step_name = ANY(c.depends_on))
       )::jsonb AS output,
       (SELECT jsonb_build_object('step', t.step_name, 'task_type', t.task_type, 'status', t.status,
                                  'attempts', t.attempts, 'error', t.error, 'error_class', t.error_class)
        FROM baton.run_tasks t
        WHERE t.run_id = r.id AND t.status IN ('dead', 'failed')
        ORDER BY t.finished_at NULLS LAST, t.id
        LIMIT 1)::jsonb AS failed_task
FROM baton.runs r
WHERE r.id = ANY(@ids::bigint[]);

-- name: WebhookDeliveriesInsert :many
INSERT INTO baton.webhook_deliveries (webhook_id, message_id, event_type, event_id, payload)
SELECT unnest(@webhook_ids::bigint[]), unnest(@message_ids::text[]), unnest(@event_types::text[]),
       unnest(@event_ids::bigint[]), unnest(@payloads::jsonb[])
ON CONFLICT (message_id) DO NOTHING
RETURNING id;

-- name: WebhookDeliveryInsert :one
INSERT INTO baton.webhook_deliveries (webhook_id, message_id, event_type, event_id, payload)
VALUES (@webhook_id, @message_id, @event_type, sqlc.narg('event_id'), @payload)
RETURNING *;

-- name: WebhookDeliveryList :many
SELECT * FROM baton.webhook_deliveries
WHERE webhook_id = @webhook_id
  AND (sqlc.narg('before_id')::bigint IS NULL OR id < sqlc.narg('before_id')::bigint)
ORDER BY id DESC
LIMIT @max_rows;

-- name: WebhookDeliveryAttempted :one
-- Counts one more attempt and returns its number.
UPDATE baton.webhook_deliveries SET attempts = attempts + 1 WHERE id = @id RETURNING attempts;

-- name: WebhookDeliveryFinish :exec
UPDATE baton.webhook_deliveries SET status = @status, finished_at = now() WHERE id = @id;

-- name: WebhookDeliveryReopen :one
UPDATE baton.webhook_deliveries SET status = 'pending', finished_at = NULL
WHERE id = @id AND webhook_id = @webhook_id
RETURNING *;

-- name: WebhookAttemptInsert :exec
INSERT INTO baton.webhook_attempts (delivery_id, attempt, succeeded, status_code, latency_ms, response_head, error)
VALUES (@delivery_id, @attempt, @succeeded, sqlc.narg('status_code'), @latency_ms, sqlc.narg('response_head'),
        sqlc.narg('error'));

-- name: WebhookAttemptList :many
SELECT * FROM baton.webhook_attempts WHERE delivery_id = ANY(@delivery_ids::bigint[]) ORDER BY delivery_id, id;

-- name: WebhookDeliveryForSend :one
SELECT sqlc.embed(d), sqlc.embed(w)
FROM baton.webhook_deliveries d
JOIN baton.webhooks w ON w.id = d.webhook_id
WHERE d.id = @id;

-- name: WebhookDeliveryPurge :execrows
-- Deletes up to @batch finished deliveries (with their attempts) created
-- more than @retention ago, oldest first; pending ones are kept whatever
-- their age. A retention under an hour deletes nothing (a guard against a
-- unit mistake).
DELETE FROM baton.webhook_deliveries d
WHERE d.id IN (SELECT o.id FROM baton.webhook_deliveries o
               WHERE o.created_at < now() - @retention::interval AND o.status <> 'pending'
                 AND @retention::interval >= interval '1 hour'
               ORDER BY o.created_at
               LIMIT @batch::integer);
