-- name: RunTaskListByRun :many
SELECT * FROM baton.run_tasks WHERE run_id = @run_id ORDER BY step_index;

-- name: RunTasksStarted :exec
SELECT baton.tasks_started(@ids::bigint[], @attempts::integer[], @started_at::timestamptz[]);

-- name: RunTasksSucceed :many
SELECT id::bigint FROM baton.tasks_succeed(@ids::bigint[], @attempts::integer[], @outputs::jsonb[],
                                           @resolved_params::jsonb[], @started_at::timestamptz[],
                                           @durations_ms::bigint[], @node::text, @delete_jobs::boolean) AS id;

-- name: RunTaskFail :one
SELECT baton.task_fail(@id::bigint, @attempt::integer, @error::text, @error_class::text, @final::boolean,
                       sqlc.narg('next_retry_at')::timestamptz, sqlc.narg('resolved_params')::jsonb,
                       sqlc.narg('started_at')::timestamptz, @duration_ms::bigint, @node::text)::boolean AS recorded;

-- name: RunTaskStatusGet :one
SELECT status FROM baton.run_tasks WHERE id = @id;

-- name: RunTaskDefinitions :many
-- What workers need to execute the given tasks (engine.TaskArgs;
-- baton._enqueue puts only the ids and the timeout in the job itself), and
-- each task's status.
SELECT t.id, t.status, t.run_id, t.step_name, t.task_type, t.executor, t.params, t.timeout_ms,
       t.permanent_exit_codes, t.backoff, t.circuit_breaker, t.resources, t.concurrency
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
