-- set_task_priority overrides the priority (1 high .. 4 background) of one
-- unfinished task of an unfinished run, and of its waiting River job
-- (updated in place). The change is recorded as a task_priority_changed
-- event with the actor. Returns the number of River jobs updated (0 or 1).
-- A priority outside 1..4 raises 22023; a finished task or run raises
-- 55000; an unknown task P0002.
CREATE OR REPLACE FUNCTION baton.set_task_priority(task_id bigint, priority integer, actor text DEFAULT current_user)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    t baton.run_tasks;
    r baton.runs;
    n integer;
BEGIN
    IF set_task_priority.priority IS NULL OR set_task_priority.priority NOT BETWEEN 1 AND 4 THEN
        RAISE EXCEPTION 'baton: priority must be between 1 and 4, got %', coalesce(set_task_priority.priority::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    t := baton._task_for_update(set_task_priority.task_id);
    SELECT * INTO r FROM baton.runs WHERE runs.id = t.run_id;
    IF r.status NOT IN ('queued', 'running', 'paused') THEN
        RAISE EXCEPTION 'baton: run % already finished with status %', r.id, r.status USING ERRCODE = '55000';
    END IF;
    IF t.status NOT IN ('pending', 'queued', 'running') THEN
        RAISE EXCEPTION 'baton: task % (step %) already finished with status %', t.id, t.step_name, t.status
            USING ERRCODE = '55000';
    END IF;
    n := baton._reprioritize(t.run_id, t.id, set_task_priority.priority::smallint);
    INSERT INTO baton.task_events (run_id, task_id, step_name, kind, priority, actor, data)
    VALUES (t.run_id, t.id, t.step_name, 'task_priority_changed', set_task_priority.priority, coalesce(actor, current_user),
            jsonb_build_object('from', t.priority, 'to', set_task_priority.priority, 'jobs_updated', n));
    PERFORM baton._notify(t.run_id, 'task_priority_changed', t.id);
    RETURN n;
END
$$;
