-- _enqueue inserts a River job for each given task, marks the tasks queued,
-- and wakes River's producers. A job's args carry only the task's id and its
-- timeout (which River needs before the worker starts, and its rescuer to
-- tell a stuck job); the worker reads the rest of the task, its run
-- included, with many others at once (query RunTaskDefinitions). Every key
-- and value of args is an entry in River's GIN index on args, written at the
-- insert and again at each of River's updates of the job (fetch,
-- completion): small args keep River's own work per task close to that of a
-- plain job (the run's id, dropped from args, cost two entries per job).
CREATE OR REPLACE FUNCTION baton._enqueue(p_task_ids bigint[])
RETURNS integer
LANGUAGE plpgsql
-- One plan per session, by primary key whatever the statistics say: planned
-- afresh at every call (its custom plan for the one root of a starting run
-- always looks cheaper than a generic one), the insert cost more to plan
-- than to run; and with index scans the only choice, a plan cached while
-- the tables were small cannot scan them whole once they grow.
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off AS $$
DECLARE
    queued integer;
    queues text[];
BEGIN
    IF p_task_ids IS NULL OR cardinality(p_task_ids) = 0 THEN
        RETURN 0;
    END IF;

    WITH jobs AS (
        INSERT INTO public.river_job (args, kind, max_attempts, priority, queue, state, scheduled_at, metadata, tags)
        SELECT jsonb_build_object('task_id', t.id, 'timeout_ms', t.timeout_ms),
               'baton_task', t.max_attempts, t.priority, t.queue, 'available', now(), '{}', '{}'
        FROM baton.run_tasks t
        WHERE t.id = ANY (p_task_ids)
        ORDER BY t.id
        RETURNING id, queue, (args ->> 'task_id')::bigint AS task_id
    ), marked AS (
        -- A queued task waits on nothing (_advance leaves deps_pending of the
        -- children it releases for this write).
        UPDATE baton.run_tasks t
        SET status = 'queued', deps_pending = 0, river_job_id = jobs.id, queued_at = now()
        FROM jobs
        -- t.id = ANY: through the primary key, never a hash over a scan of run_tasks.
        WHERE t.id = ANY (p_task_ids) AND t.id = jobs.task_id
        RETURNING t.id
    )
    SELECT (SELECT count(*) FROM marked), (SELECT array_agg(DISTINCT jobs.queue) FROM jobs)
    INTO queued, queues;

    PERFORM pg_notify('public.river_insert', json_build_object('queue', q)::text) FROM unnest(queues) AS q;
    RETURN queued;
END
$$;
