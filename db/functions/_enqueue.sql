-- _enqueue inserts a River job for each given task, marks the tasks queued,
-- and wakes River's producers. A job's args carry everything a worker needs
-- to execute the task, so the worker reads nothing before it starts.
CREATE OR REPLACE FUNCTION baton._enqueue(p_task_ids bigint[])
RETURNS integer
LANGUAGE plpgsql
-- Plan each statement for its actual arrays: a plan cached while the tables
-- were small would scan them whole once they grow.
SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    queued integer;
    q      text;
BEGIN
    IF p_task_ids IS NULL OR cardinality(p_task_ids) = 0 THEN
        RETURN 0;
    END IF;

    WITH jobs AS (
        INSERT INTO public.river_job (args, kind, max_attempts, priority, queue, state, scheduled_at, metadata, tags)
        -- Unset options are left out (not null): every key and value of
        -- args is an entry in River's GIN index on args, written at insert
        -- and again at each of River's updates of the job.
        SELECT jsonb_build_object(
                   'task_id', t.id, 'run_id', t.run_id, 'step', t.step_name, 'task_type', t.task_type,
                   'executor', t.executor, 'params', t.params, 'timeout_ms', t.timeout_ms)
               || CASE WHEN t.permanent_exit_codes IS NULL THEN '{}'
                       ELSE jsonb_build_object('permanent_exit_codes', t.permanent_exit_codes) END
               || CASE WHEN t.backoff IS NULL THEN '{}' ELSE jsonb_build_object('backoff', t.backoff) END
               || CASE WHEN t.circuit_breaker IS NULL THEN '{}' ELSE jsonb_build_object('circuit_breaker', t.circuit_breaker) END
               || CASE WHEN t.resources IS NULL THEN '{}' ELSE jsonb_build_object('resources', t.resources) END
               || CASE WHEN t.concurrency IS NULL THEN '{}' ELSE jsonb_build_object('concurrency', t.concurrency) END,
               'baton_task', t.max_attempts, t.priority, t.queue, 'available', now(), '{}', '{}'
        FROM baton.run_tasks t
        WHERE t.id = ANY (p_task_ids)
        ORDER BY t.id
        RETURNING id, (args ->> 'task_id')::bigint AS task_id
    )
    UPDATE baton.run_tasks t
    SET status = 'queued', river_job_id = jobs.id, queued_at = now()
    FROM jobs
    -- t.id = ANY: through the primary key, never a hash over a scan of run_tasks.
    WHERE t.id = ANY (p_task_ids) AND t.id = jobs.task_id;
    GET DIAGNOSTICS queued = ROW_COUNT;

    FOR q IN SELECT DISTINCT t.queue FROM baton.run_tasks t WHERE t.id = ANY (p_task_ids) LOOP
        PERFORM pg_notify('public.river_insert', json_build_object('queue', q)::text);
    END LOOP;
    RETURN queued;
END
$$;
