-- _compensate starts the compensations of run p_run_id (saga semantics,
-- ADR 0015): for every succeeded step whose workflow step declares a
-- compensate task, a task "compensate:<step>" (compensates = the step) is
-- added to the run. A step's compensation depends on the compensations of
-- the succeeded steps downstream of it (workflow_steps.compensate -> after),
-- so compensations run in reverse dependency order; those depending on
-- nothing are queued at once. The run's compensation becomes 'running' and
-- run_compensating is logged (data: the steps, in start order) and
-- notified. The run is expected to be finished (the batch rollback cancels
-- it first) and locked by the caller. Returns how many compensations were
-- added: 0 for a run with nothing to undo, or already compensating.
CREATE OR REPLACE FUNCTION baton._compensate(p_run_id bigint, p_actor text)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    r     baton.runs;
    n     integer;
    steps jsonb;
    roots bigint[];
BEGIN
    SELECT * INTO r FROM baton.runs WHERE id = p_run_id;
    IF NOT FOUND OR r.compensation IS NOT NULL THEN
        RETURN 0;
    END IF;

    WITH undo AS (
        SELECT t.step_name, t.step_index, t.priority, s.compensate
        FROM baton.run_tasks t
        JOIN baton.workflow_steps s ON s.workflow_id = r.workflow_id AND s.name = t.step_name
        WHERE t.run_id = r.id AND t.status = 'succeeded' AND t.compensates IS NULL AND s.compensate IS NOT NULL
    ), inserted AS (
        INSERT INTO baton.run_tasks (run_id, step_name, step_index, task_type, executor, status, when_cond,
                                     depends_on, deps_pending, optional, params, priority, queue,
                                     max_attempts, timeout_ms, permanent_exit_codes, backoff, circuit_breaker,
                                     resources, concurrency, compensates)
        SELECT r.id, 'compensate:' || u.step_name, r.tasks_total + u.step_index, tt.name, tt.executor, 'pending',
               'on_success', d.deps, cardinality(d.deps), false,
               tt.defaults || coalesce(u.compensate -> 'params', '{}'),
               coalesce((u.compensate ->> 'priority')::smallint, u.priority), tt.queue,
               coalesce((u.compensate ->> 'max_retries')::integer, tt.max_retries) + 1,
               coalesce((u.compensate ->> 'timeout_ms')::bigint, tt.timeout_ms),
               tt.permanent_exit_codes, coalesce(u.compensate -> 'backoff', tt.backoff), tt.circuit_breaker,
               tt.resources,
               CASE WHEN tt.concurrency_limit IS NOT NULL THEN jsonb_build_array(jsonb_build_object(
                    'key', 'task_type:' || tt.name, 'limit', tt.concurrency_limit)) END,
               u.step_name
        FROM undo u
        JOIN baton.task_types tt ON tt.name = u.compensate ->> 'type'
        CROSS JOIN LATERAL (
            SELECT coalesce(array_agg('compensate:' || a.name ORDER BY a.name), '{}') AS deps
            FROM jsonb_array_elements_text(coalesce(u.compensate -> 'after', '[]')) AS a(name)
            WHERE a.name IN (SELECT undo.step_name FROM undo)
        ) d
        ORDER BY cardinality(d.deps), u.step_index DESC
        RETURNING run_tasks.id, run_tasks.compensates, run_tasks.deps_pending, run_tasks.step_index
    )
    SELECT count(*), coalesce(jsonb_agg(inserted.compensates ORDER BY inserted.step_index DESC), '[]'),
           coalesce(array_agg(inserted.id ORDER BY inserted.id) FILTER (WHERE inserted.deps_pending = 0), '{}')
    INTO n, steps, roots
    FROM inserted;
    IF n = 0 THEN
        RETURN 0;
    END IF;

    UPDATE baton.runs SET compensation = 'running', updated_at = now() WHERE id = r.id;
    INSERT INTO baton.task_events (run_id, kind, actor, priority, data)
    VALUES (r.id, 'run_compensating', p_actor, r.priority, jsonb_build_object('steps', steps, 'status', r.status));
    PERFORM baton._enqueue(roots);
    PERFORM baton._notify(r.id, 'run_compensating');
    RETURN n;
END
$$;
