-- _task_for_update locks a task's run, then returns the task, raising P0002
-- when the task does not exist.
CREATE OR REPLACE FUNCTION baton._task_for_update(p_task_id bigint)
RETURNS baton.run_tasks
LANGUAGE plpgsql AS $$
DECLARE
    t baton.run_tasks;
BEGIN
    PERFORM baton._lock_runs(array_agg(rt.run_id)) FROM baton.run_tasks rt WHERE rt.id = p_task_id;
    SELECT * INTO t FROM baton.run_tasks WHERE id = p_task_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'baton: task % not found', p_task_id USING ERRCODE = 'P0002';
    END IF;
    RETURN t;
END
$$;
