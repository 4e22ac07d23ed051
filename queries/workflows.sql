-- name: WorkflowLockName :exec
SELECT pg_advisory_xact_lock(hashtextextended('baton.workflow:' || @name::text, 0));

-- name: WorkflowGetLatest :one
SELECT * FROM baton.workflows WHERE name = @name ORDER BY version DESC LIMIT 1;

-- name: WorkflowGetVersion :one
SELECT * FROM baton.workflows WHERE name = @name AND version = @version;

-- name: WorkflowInsert :one
INSERT INTO baton.workflows (name, version, description, priority, owner, tags, definition, checksum, sla_ms)
VALUES (@name, @version, @description, @priority, @owner, @tags, @definition, @checksum, sqlc.narg('sla_ms'))
RETURNING *;

-- name: WorkflowStepInsert :copyfrom
INSERT INTO baton.workflow_steps (workflow_id, step_index, name, task_type, params, depends_on, when_cond,
                                  max_retries, timeout_ms, priority, optional, backoff, resources,
                                  concurrency, compensate)
VALUES (@workflow_id, @step_index, @name, @task_type, @params, @depends_on, @when_cond,
        @max_retries, @timeout_ms, @priority, @optional, @backoff, @resources,
        @concurrency, @compensate);

-- name: WorkflowListLatest :many
SELECT DISTINCT ON (w.name) w.*,
       (SELECT count(*) FROM baton.workflow_steps s WHERE s.workflow_id = w.id)::integer AS step_count
FROM baton.workflows w
ORDER BY w.name, w.version DESC;
