-- reconcile_tasks repairs what nothing else would move any more, and returns
-- how many tasks and runs it repaired:
--   * a task queued or running whose River job is finalized (discarded,
--     cancelled or completed, for longer than p_grace) or gone. River
--     finalizes a job when its last attempt errors, even if the worker could
--     not record the attempt's outcome (the database was unreachable, or the
--     job's timeout ran out first). Such a task is recorded dead exactly as a
--     final failure is (task_fail): a dead letter, the run's attention flag,
--     on_failure branches, the run's end. Compensation tasks of finished
--     runs being compensated (ADR 0015) are repaired the same way.
--   * a running run with no task queued or running: its pending tasks with
--     nothing left to wait for are queued or skipped, and it finishes when
--     nothing is left (as _advance does after every outcome).
-- The River job periodic "baton_reconcile" calls it; it is safe to call from
-- many nodes at once (each repair rechecks under the run's lock).
CREATE OR REPLACE FUNCTION baton.reconcile_tasks(p_grace interval DEFAULT '10 seconds', p_limit integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    orphan   record;
    stalled  bigint;
    repaired integer := 0;
BEGIN
    IF p_grace IS NULL OR p_grace < interval '0' OR p_limit IS NULL OR p_limit < 1 OR p_limit > 100000 THEN
        RAISE EXCEPTION 'baton: reconcile_tasks needs p_grace >= 0 and p_limit in 1..100000' USING ERRCODE = '22023';
    END IF;

    FOR orphan IN
        (SELECT t.id, t.run_id, t.river_job_id
         FROM baton.runs r
         JOIN baton.run_tasks t ON t.run_id = r.id
         LEFT JOIN public.river_job j ON j.id = t.river_job_id
         WHERE r.status IN ('queued', 'running', 'paused')
           AND t.status IN ('queued', 'running')
           AND (j.id IS NULL OR j.finalized_at < now() - p_grace)
         ORDER BY t.run_id
         LIMIT p_limit)
        UNION ALL
        -- Compensations run in finished runs (ADR 0015); the few runs
        -- being compensated are found through runs_compensating_idx.
        (SELECT t.id, t.run_id, t.river_job_id
         FROM baton.runs r
         JOIN baton.run_tasks t ON t.run_id = r.id
         LEFT JOIN public.river_job j ON j.id = t.river_job_id
         WHERE r.compensation = 'running' AND r.status NOT IN ('queued', 'running', 'paused')
           AND t.compensates IS NOT NULL AND t.status IN ('queued', 'running')
           AND (j.id IS NULL OR j.finalized_at < now() - p_grace)
         ORDER BY t.run_id
         LIMIT p_limit)
    LOOP
        PERFORM baton._lock_runs(ARRAY[orphan.run_id]);
        -- Recheck under the lock: an operator may have retried the task
        -- (a new job) or its outcome may have been recorded meanwhile.
        PERFORM baton.task_fail(t.id, greatest(t.attempts, coalesce(j.attempt, 0), 1),
                    coalesce(j.errors[cardinality(j.errors)] ->> 'error' || ' ', '') ||
                    CASE WHEN j.id IS NULL THEN '(outcome never recorded: the River job is gone)'
                         ELSE format('(outcome never recorded: the River job was %s)', j.state) END,
                    CASE WHEN cardinality(j.errors) > 0 THEN 'transient' ELSE 'permanent' END,
                    true, NULL, NULL, NULL, NULL, 'reconciler')
        FROM baton.run_tasks t
        LEFT JOIN public.river_job j ON j.id = t.river_job_id
        WHERE t.id = orphan.id AND t.status IN ('queued', 'running')
          AND t.river_job_id IS NOT DISTINCT FROM orphan.river_job_id
          AND (j.id IS NULL OR j.finalized_at IS NOT NULL);
        IF FOUND THEN
            repaired := repaired + 1;
        END IF;
    END LOOP;

    FOR stalled IN
        SELECT r.id FROM baton.runs r
        WHERE r.status = 'running' AND r.updated_at < now() - p_grace
          AND NOT EXISTS (SELECT 1 FROM baton.run_tasks t
                          WHERE t.run_id = r.id AND t.status IN ('queued', 'running'))
        LIMIT p_limit
    LOOP
        PERFORM baton._lock_runs(ARRAY[stalled]);
        IF EXISTS (SELECT 1 FROM baton.runs r WHERE r.id = stalled AND r.status = 'running')
           AND NOT EXISTS (SELECT 1 FROM baton.run_tasks t
                           WHERE t.run_id = stalled AND t.status IN ('queued', 'running')) THEN
            PERFORM baton._advance('{}', ARRAY[stalled]);
            repaired := repaired + 1;
        END IF;
    END LOOP;
    RETURN repaired;
END
$$;
