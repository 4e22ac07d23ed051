-- task_interrupted records an attempt that was cut short before it had an
-- outcome: its task or run was cancelled, or its worker was stopping (River
-- then hands the job to a worker again without using an attempt). It changes
-- no state; the event keeps the audit trail complete.
CREATE OR REPLACE FUNCTION baton.task_interrupted(p_task_id bigint, p_attempt integer, p_reason text,
                                                  p_duration_ms bigint, p_node text)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO baton.task_events (run_id, task_id, step_name, kind, attempt, duration_ms, error, node, queue, priority)
    SELECT t.run_id, t.id, t.step_name, 'task_attempt_interrupted', p_attempt, p_duration_ms, p_reason, p_node,
           t.queue, t.priority
    FROM baton.run_tasks t WHERE t.id = p_task_id;
    SELECT baton._notify(t.run_id, 'task_attempt_interrupted', t.id) FROM baton.run_tasks t WHERE t.id = p_task_id;
$$;
