-- purge_task_jobs deletes up to p_limit River jobs of kind baton_task that
-- completed more than p_retention ago, oldest first, and returns how many it
-- deleted. Baton has recorded each such task's outcome in its own tables
-- (run_tasks, task_events), so the job row is only River's copy; River's own
-- cleaner keeps other kinds for its configured retention. It reads River's
-- (state, finalized_at) index and skips rows another transaction holds.
CREATE OR REPLACE FUNCTION baton.purge_task_jobs(p_retention interval, p_limit integer)
RETURNS integer
LANGUAGE sql AS $$
    WITH gone AS (
        DELETE FROM public.river_job j
        WHERE j.id IN (
            SELECT o.id FROM public.river_job o
            WHERE o.state = 'completed' AND o.finalized_at < now() - p_retention AND o.kind = 'baton_task'
            ORDER BY o.finalized_at
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED
        )
        RETURNING 1
    )
    SELECT count(*)::integer FROM gone;
$$;
