-- name: RunTaskListByRun :many
SELECT * FROM baton.run_tasks WHERE run_id = @run_id ORDER BY step_index;

-- name: RunTaskBegin :one
SELECT * FROM baton.task_begin(@id::bigint, @attempt::integer);

-- name: RunTaskSucceed :one
SELECT baton.task_succeed(@id::bigint, @attempt::integer, @output::jsonb, @resolved_params::jsonb,
                          @duration_ms::bigint, @node::text)::boolean AS recorded;

-- name: RunTaskFail :one
SELECT baton.task_fail(@id::bigint, @attempt::integer, @error::text, @error_class::text, @final::boolean,
                       sqlc.narg('next_retry_at')::timestamptz, sqlc.narg('resolved_params')::jsonb,
                       @duration_ms::bigint, @node::text)::boolean AS recorded;

-- name: RunTaskResultsByRun :many
SELECT step_name, status, output FROM baton.run_tasks WHERE run_id = @run_id;

-- name: RunInputGet :one
SELECT input FROM baton.runs WHERE id = @id;
