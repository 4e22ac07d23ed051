-- name: TriggerInsert :one
INSERT INTO baton.triggers (name, event_type, condition, workflow, input_template, dedup_window_seconds, enabled,
                            secret_sealed, description)
VALUES (@name, @event_type, CAST(sqlc.narg('condition')::text AS jsonpath), @workflow, sqlc.narg('input_template'),
        @dedup_window_seconds, @enabled, sqlc.narg('secret_sealed'), @description)
RETURNING id, name, event_type, coalesce(condition::text, '')::text AS condition, workflow, input_template, dedup_window_seconds, enabled,
          (secret_sealed IS NOT NULL)::boolean AS has_secret, description, created_at, updated_at;

-- name: TriggerUpdate :one
UPDATE baton.triggers
SET event_type = @event_type, condition = CAST(sqlc.narg('condition')::text AS jsonpath), workflow = @workflow,
    input_template = sqlc.narg('input_template'), dedup_window_seconds = @dedup_window_seconds, enabled = @enabled,
    secret_sealed = CASE WHEN @keep_secret::boolean THEN secret_sealed ELSE sqlc.narg('secret_sealed') END,
    description = @description, updated_at = now()
WHERE name = @name
RETURNING id, name, event_type, coalesce(condition::text, '')::text AS condition, workflow, input_template, dedup_window_seconds, enabled,
          (secret_sealed IS NOT NULL)::boolean AS has_secret, description, created_at, updated_at;

-- name: TriggerGet :one
SELECT id, name, event_type, coalesce(condition::text, '')::text AS condition, workflow, input_template, dedup_window_seconds, enabled,
       (secret_sealed IS NOT NULL)::boolean AS has_secret, description, created_at, updated_at
FROM baton.triggers WHERE name = @name;

-- name: TriggerList :many
SELECT id, name, event_type, coalesce(condition::text, '')::text AS condition, workflow, input_template, dedup_window_seconds, enabled,
       (secret_sealed IS NOT NULL)::boolean AS has_secret, description, created_at, updated_at
FROM baton.triggers ORDER BY name;

-- name: TriggerDelete :execrows
DELETE FROM baton.triggers WHERE name = @name;

-- name: TriggerSecret :one
SELECT id, event_type, enabled, secret_sealed FROM baton.triggers WHERE name = @name;

-- name: TriggerCheckCondition :one
-- Raises unless condition parses as a SQL/JSON path predicate.
SELECT jsonb_path_match('{}'::jsonb, CAST(@condition::text AS jsonpath), '{}', false) IS NOT TRUE AS ok;

-- name: TriggerWorkflowExists :one
SELECT EXISTS (SELECT 1 FROM baton.workflows WHERE name = @workflow) AS found;

-- name: TriggersMatching :many
-- The enabled triggers of an event's type whose condition holds for its
-- payload (a condition that errors on the payload does not hold). An event
-- that came through the webhook of trigger hook_trigger fires that trigger
-- only; any other event (hook_trigger '') fires only triggers without a
-- secret, so a signed trigger starts runs only from its verified webhooks.
SELECT t.id, t.name, t.workflow, t.input_template
FROM baton.triggers t
WHERE t.event_type = @event_type AND t.enabled
  AND CASE WHEN @hook_trigger::text = '' THEN t.secret_sealed IS NULL ELSE t.name = @hook_trigger::text END
  AND (t.condition IS NULL OR coalesce(jsonb_path_match(@payload::jsonb, t.condition, '{}', true), false))
ORDER BY t.id;

-- name: TriggersOfTypesExist :one
SELECT EXISTS (SELECT 1 FROM baton.triggers WHERE enabled AND event_type = ANY (@types::text[])) AS found;
