-- cancel_task cancels one unfinished task and its River job (a running
-- attempt is interrupted); its on_success dependents are skipped, and its
-- run fails at the end unless the step is optional.
CREATE OR REPLACE FUNCTION baton.cancel_task(task_id bigint, actor text DEFAULT current_user)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t baton.run_tasks := baton._task_for_update(task_id);
BEGIN
    IF t.status NOT IN ('pending', 'queued', 'running') THEN
        RAISE EXCEPTION 'baton: task % (step %) already finished with status %', t.id, t.step_name, t.status
            USING ERRCODE = '55000';
    END IF;
    PERFORM baton._cancel_jobs(ARRAY[t.id]);
    UPDATE baton.run_tasks SET status = 'cancelled', finished_at = now() WHERE id = t.id;
    INSERT INTO baton.task_events (run_id, task_id, step_name, kind, actor)
    VALUES (t.run_id, t.id, t.step_name, 'task_cancelled', actor);
    PERFORM baton._advance(ARRAY[t.id]);
    PERFORM baton._notify(t.run_id, 'task_cancelled', t.id);
    RETURN true;
END
$$;
