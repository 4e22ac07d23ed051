-- name: RunTaskListByRun :many
SELECT * FROM baton.run_tasks WHERE run_id = @run_id ORDER BY step_index;

-- name: RunTasksStarted :exec
SELECT baton.tasks_started(@ids::bigint[], @attempts::integer[], @started_at::timestamptz[]);

-- name: RunTasksSucceed :many
SELECT id::bigint FROM baton.tasks_succeed(@ids::bigint[], @attempts::integer[], @outputs::jsonb[],
                                           @resolved_params::jsonb[], @started_at::timestamptz[],
                                           @durations_ms::bigint[], @node::text) AS id;

-- name: RunTaskFail :one
SELECT baton.task_fail(@id::bigint, @attempt::integer, @error::text, @error_class::text, @final::boolean,
                       sqlc.narg('next_retry_at')::timestamptz, sqlc.narg('resolved_params')::jsonb,
                       sqlc.narg('started_at')::timestamptz, @duration_ms::bigint, @node::text)::boolean AS recorded;

-- name: RunTaskStatusGet :one
SELECT status FROM baton.run_tasks WHERE id = @id;

-- name: RunTaskDefinitions :many
-- What workers need to execute the given tasks, in the shape of the River
-- job args of a task (engine.TaskArgs; baton._enqueue puts only the ids and
-- the timeout in the job itself), and each task's status. Unset options are
-- left out.
SELECT t.id, t.status,
       (jsonb_build_object(
            'task_id', t.id, 'run_id', t.run_id, 'step', t.step_name, 'task_type', t.task_type,
            'executor', t.executor, 'params', t.params, 'timeout_ms', t.timeout_ms)
        || CASE WHEN t.permanent_exit_codes IS NULL THEN '{}'
                ELSE jsonb_build_object('permanent_exit_codes', t.permanent_exit_codes) END
        || CASE WHEN t.backoff IS NULL THEN '{}' ELSE jsonb_build_object('backoff', t.backoff) END
        || CASE WHEN t.circuit_breaker IS NULL THEN '{}' ELSE jsonb_build_object('circuit_breaker', t.circuit_breaker) END
        || CASE WHEN t.resources IS NULL THEN '{}' ELSE jsonb_build_object('resources', t.resources) END
        || CASE WHEN t.concurrency IS NULL THEN '{}' ELSE jsonb_build_object('concurrency', t.concurrency) END
       )::jsonb AS args
FROM baton.run_tasks t
WHERE t.id = ANY (@ids::bigint[]);

-- name: RunTaskGetByStep :one
SELECT * FROM baton.run_tasks WHERE run_id = @run_id AND step_name = @step_name;

-- name: RunTaskRetry :one
SELECT baton.retry_task(@id::bigint, sqlc.narg('params')::jsonb, @actor::text)::boolean AS retried;

-- name: RunTaskSkip :one
SELECT baton.skip_task(@id::bigint, @actor::text)::boolean AS skipped;

-- name: RunTaskCancel :one
SELECT baton.cancel_task(@id::bigint, @actor::text)::boolean AS cancelled;

-- name: RunTaskInterrupted :exec
SELECT baton.task_interrupted(@id::bigint, @attempt::integer, @reason::text, @duration_ms::bigint, @node::text);

-- name: RunTasksReconcile :one
SELECT baton.reconcile_tasks(@grace::interval, @max_tasks::integer)::integer AS repaired;

-- name: RunTaskResultsByRuns :many
-- Upstream results of many runs at once (the task worker renders templates
-- of a batch of tasks with one read). One index lookup per run.
SELECT t.run_id, t.step_name, t.status, t.output
FROM unnest(@run_ids::bigint[]) AS x(id)
JOIN baton.run_tasks t ON t.run_id = x.id;

-- name: RunInputsGet :many
SELECT r.id, r.input
FROM unnest(@ids::bigint[]) AS x(id)
JOIN baton.runs r ON r.id = x.id;
