-- _cancel_jobs cancels the River jobs of the given tasks. A waiting job is
-- cancelled at once; a running one is marked and its node is told to cancel
-- the attempt's context, exactly as River's JobCancel does, so that plain SQL
-- callers interrupt running attempts too.
CREATE OR REPLACE FUNCTION baton._cancel_jobs(p_task_ids bigint[])
RETURNS void
LANGUAGE plpgsql
-- Plan each statement for its actual arrays: a plan cached while the tables
-- were small would scan them whole once they grow.
SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    interrupted integer;
BEGIN
    WITH jobs AS (
        SELECT j.id, j.queue, j.state
        FROM public.river_job j JOIN baton.run_tasks t ON j.id = t.river_job_id
        WHERE t.id = ANY (p_task_ids) AND j.finalized_at IS NULL
          AND j.state NOT IN ('cancelled', 'completed', 'discarded')
        FOR UPDATE OF j
    ), updated AS (
        UPDATE public.river_job j
        SET state = CASE WHEN jobs.state = 'running' THEN j.state ELSE 'cancelled' END,
            finalized_at = CASE WHEN jobs.state = 'running' THEN j.finalized_at ELSE now() END,
            metadata = jsonb_set(j.metadata, '{cancel_attempted_at}', to_jsonb(now()), true)
        FROM jobs
        WHERE j.id = jobs.id
        RETURNING j.id, j.queue, jobs.state AS previous_state
    )
    SELECT count(pg_notify('public.river_control', json_build_object('action', 'cancel', 'job_id', id, 'queue', queue)::text))
    INTO interrupted
    FROM updated
    WHERE previous_state = 'running';
END
$$;
