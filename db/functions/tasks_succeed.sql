-- tasks_succeed records successful attempts of many tasks at once (workers
-- batch them) and advances their runs: outputs saved, events written,
-- children queued, finished runs closed, notices sent. It returns the ids of
-- the tasks it recorded; a task that is no longer queued or running (its run
-- was cancelled) is left alone.
--
-- With p_delete_jobs, the running River job of each recorded task is deleted
-- in the same transaction (jobs.ClientOptions.TaskJobRetention of 0): the
-- outcome is in run_tasks and task_events, and a deleted row costs River's
-- table far less than completing it (a new row version with an entry in each
-- of its indexes) and purging it later. River's completer then finds no row
-- to complete, which it ignores.
--
-- Lock order (as every state change, see internal/engine): the batch's runs
-- in id order first, then their tasks. Every statement starts from the
-- given task ids or from the run ids the batch already knows and reaches
-- other rows through primary keys or per-run index lookups, so its cost
-- follows the batch, not the table sizes or the planner's statistics.
DROP FUNCTION IF EXISTS baton.tasks_succeed(bigint[], integer[], jsonb[], jsonb[], timestamptz[], bigint[], text);
CREATE OR REPLACE FUNCTION baton.tasks_succeed(p_ids bigint[], p_attempts integer[], p_outputs jsonb[], p_resolved jsonb[],
                                    p_started_at timestamptz[], p_durations_ms bigint[], p_node text,
                                    p_delete_jobs boolean DEFAULT false)
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
    run_ids   bigint[];
    done      bigint[];
    done_runs bigint[];
BEGIN
    SELECT array_agg(DISTINCT t.run_id) INTO run_ids
    FROM unnest(p_ids) AS i(id)
    CROSS JOIN LATERAL (SELECT rt.run_id FROM baton.run_tasks rt WHERE rt.id = i.id OFFSET 0) t;
    IF run_ids IS NULL THEN
        RETURN;
    END IF;
    PERFORM baton._lock_runs(run_ids);

    WITH input AS (
        SELECT * FROM unnest(p_ids, p_attempts, p_outputs, p_resolved, p_started_at, p_durations_ms)
                 AS i(id, attempt, output, resolved, started_at, duration_ms)
    ), updated AS (
        UPDATE baton.run_tasks rt
        SET status = 'succeeded', output = coalesce(i.output, 'null'), resolved_params = i.resolved,
            attempts = i.attempt, error = NULL, error_class = NULL,
            started_at = coalesce(rt.started_at, i.started_at), finished_at = now()
        FROM input i
        WHERE rt.id = i.id AND rt.status IN ('queued', 'running')
        RETURNING rt.id, rt.run_id, rt.step_name, rt.queue, rt.priority, i.attempt, i.duration_ms, rt.river_job_id
    ), jobs_gone AS (
        -- By primary key alone: the kind and state tests are written so that
        -- no index can serve them. With statistics taken while few jobs ran,
        -- the planner drove this delete from river_job's index on state,
        -- comparing every running job with every task of the batch (400,000
        -- comparisons for a batch of 500 with 800 jobs running).
        DELETE FROM public.river_job j
        USING updated u
        WHERE p_delete_jobs AND j.id = u.river_job_id AND (j.kind = 'baton_task' AND j.state = 'running') IS TRUE
    ), events AS (
        INSERT INTO baton.task_events (run_id, task_id, step_name, kind, attempt, duration_ms, node, queue, priority)
        SELECT u.run_id, u.id, u.step_name, 'task_succeeded', u.attempt, u.duration_ms, p_node, u.queue, u.priority
        FROM updated u
        RETURNING task_id, run_id
    )
    SELECT array_agg(task_id), array_agg(DISTINCT run_id) INTO done, done_runs FROM events;

    IF done IS NULL THEN
        RETURN;
    END IF;
    PERFORM baton._advance(done, '{}', done_runs);
    -- One notice per run still going (a finished run already sent its own).
    PERFORM baton._notify(x.id, 'tasks_succeeded')
    FROM unnest(done_runs) AS x(id)
    WHERE (SELECT r.status IN ('queued', 'running', 'paused') OR r.compensation = 'running'
           FROM baton.runs r WHERE r.id = x.id);
    RETURN QUERY SELECT unnest(done);
END
$$;
