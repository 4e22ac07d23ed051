-- task_fail records a failed attempt. When p_final is true (a permanent
-- error, or the last attempt) the task is dead: it enters the dead-letter
-- queue, its run is flagged as needing attention (unless the step is
-- optional) and advances (on_failure branches run). Otherwise the attempt is
-- logged with the time of the next retry and the task stays queued. A dead
-- task's River job, if still running, ends `discarded` with the error (River's
-- own state for "failed for good"; `cancelled` stays an operator's act), and
-- River's completer then leaves it alone. Recording the same non-final
-- attempt twice (a worker retrying after a lost connection) writes it once.
-- Returns false when the task is no longer queued or running.
CREATE OR REPLACE FUNCTION baton.task_fail(p_task_id bigint, p_attempt integer, p_error text, p_error_class text,
                                p_final boolean, p_next_retry_at timestamptz, p_resolved_params jsonb,
                                p_started_at timestamptz, p_duration_ms bigint, p_node text)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t baton.run_tasks;
BEGIN
    PERFORM baton._lock_runs(array_agg(rt.run_id)) FROM baton.run_tasks rt WHERE rt.id = p_task_id;

    IF NOT p_final AND EXISTS (SELECT 1 FROM baton.task_events e
                               WHERE e.task_id = p_task_id AND e.attempt = p_attempt AND e.kind = 'task_attempt_failed') THEN
        RETURN true;
    END IF;

    UPDATE baton.run_tasks
    SET status = CASE WHEN p_final THEN 'dead' ELSE 'queued' END,
        attempts = p_attempt, error = p_error, error_class = p_error_class,
        resolved_params = coalesce(p_resolved_params, resolved_params),
        started_at = coalesce(started_at, p_started_at),
        finished_at = CASE WHEN p_final THEN now() END
    WHERE id = p_task_id AND status IN ('queued', 'running')
    RETURNING * INTO t;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO baton.task_events (run_id, task_id, step_name, kind, attempt, duration_ms, error, error_class,
                                   node, queue, priority, data)
    VALUES (t.run_id, t.id, t.step_name, CASE WHEN p_final THEN 'task_dead' ELSE 'task_attempt_failed' END,
            p_attempt, p_duration_ms, p_error, p_error_class, p_node, t.queue, t.priority,
            CASE WHEN p_next_retry_at IS NOT NULL THEN jsonb_build_object('next_retry_at', p_next_retry_at) END);
    IF NOT p_final THEN
        PERFORM baton._notify(t.run_id, 'task_attempt_failed', t.id);
        RETURN true;
    END IF;

    UPDATE public.river_job j
    SET state = 'discarded', finalized_at = now(),
        errors = array_append(j.errors, jsonb_build_object('at', now(), 'attempt', p_attempt,
                                                           'error', coalesce(p_error, ''), 'trace', ''))
    -- By primary key alone (see tasks_succeed): no index serves the state test.
    WHERE j.id = t.river_job_id AND (j.state = 'running') IS TRUE;

    INSERT INTO baton.dead_letters (task_id, run_id, workflow_name, workflow_version, step_name, task_type, params,
                                    error, error_class, attempts, first_failed_at, last_failed_at)
    SELECT t.id, t.run_id, r.workflow_name, r.workflow_version, t.step_name, t.task_type,
           coalesce(t.resolved_params, t.params), coalesce(p_error, ''), coalesce(p_error_class, 'permanent'), p_attempt,
           coalesce((SELECT min(e.time) FROM baton.task_events e
                     WHERE e.task_id = t.id AND e.kind IN ('task_attempt_failed', 'task_dead')), now()),
           now()
    FROM baton.runs r WHERE r.id = t.run_id
    ON CONFLICT (task_id) DO UPDATE SET
        params = EXCLUDED.params, error = EXCLUDED.error, error_class = EXCLUDED.error_class,
        attempts = baton.dead_letters.attempts + EXCLUDED.attempts, last_failed_at = EXCLUDED.last_failed_at;
    IF NOT t.optional THEN
        PERFORM baton._refresh_attention(t.run_id);
        INSERT INTO baton.task_events (run_id, task_id, step_name, kind, error)
        VALUES (t.run_id, t.id, t.step_name, 'run_needs_attention', 'step ' || t.step_name || ' is dead');
    END IF;
    PERFORM baton._advance(ARRAY[t.id]);
    PERFORM baton._notify(t.run_id, 'task_dead', t.id);
    RETURN true;
END
$$;
