-- _reprioritize sets the priority of a run's unfinished tasks (or of one of
-- them, p_task_id) and of their waiting River jobs (available, scheduled,
-- retryable or pending), which are updated in place: River fetches by
-- priority, so the change takes effect at the next fetch. A running job
-- keeps its priority; a task not yet queued gets it when it is. Returns the
-- number of River jobs updated. The caller holds the run's lock.
CREATE OR REPLACE FUNCTION baton._reprioritize(p_run_id bigint, p_task_id bigint, p_priority smallint)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    UPDATE baton.run_tasks t SET priority = p_priority
    WHERE t.run_id = p_run_id AND (p_task_id IS NULL OR t.id = p_task_id)
      AND t.status IN ('pending', 'queued', 'running') AND t.priority <> p_priority;
    UPDATE public.river_job j SET priority = p_priority
    FROM baton.run_tasks t
    WHERE t.run_id = p_run_id AND (p_task_id IS NULL OR t.id = p_task_id)
      AND t.status IN ('queued', 'running') AND j.id = t.river_job_id
      AND j.state IN ('available', 'scheduled', 'retryable', 'pending') AND j.priority <> p_priority;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
