-- name: TaskTypeUpsert :one
INSERT INTO baton.task_types (name, executor, description, defaults, max_retries, timeout_ms, priority, queue,
                              permanent_exit_codes, backoff, circuit_breaker, cost_per_second, cost_per_run, resources,
                              concurrency_limit)
VALUES (@name, @executor, @description, @defaults, @max_retries, @timeout_ms, @priority, @queue,
        @permanent_exit_codes, @backoff, @circuit_breaker, @cost_per_second, @cost_per_run, @resources,
        sqlc.narg('concurrency_limit'))
ON CONFLICT (name) DO UPDATE SET
    executor = EXCLUDED.executor,
    description = EXCLUDED.description,
    defaults = EXCLUDED.defaults,
    max_retries = EXCLUDED.max_retries,
    timeout_ms = EXCLUDED.timeout_ms,
    priority = EXCLUDED.priority,
    queue = EXCLUDED.queue,
    permanent_exit_codes = EXCLUDED.permanent_exit_codes,
    backoff = EXCLUDED.backoff,
    circuit_breaker = EXCLUDED.circuit_breaker,
    cost_per_second = EXCLUDED.cost_per_second,
    cost_per_run = EXCLUDED.cost_per_run,
    resources = EXCLUDED.resources,
    concurrency_limit = EXCLUDED.concurrency_limit,
    updated_at = now()
RETURNING *;

-- name: TaskTypeGet :one
SELECT * FROM baton.task_types WHERE name = @name;

-- name: TaskTypeList :many
SELECT * FROM baton.task_types ORDER BY name;
