-- set_run_priority overrides the priority (1 high .. 4 background) of an
-- unfinished run: the run, its unfinished tasks and their waiting River jobs
-- (updated in place, so a queued task moves in the queue at once). The change
-- is recorded as a run_priority_changed event with the actor. Returns the
-- number of River jobs updated. A priority outside 1..4 raises 22023; a
-- finished run raises 55000; an unknown run P0002.
CREATE OR REPLACE FUNCTION baton.set_run_priority(id bigint, priority integer, actor text DEFAULT current_user)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    r baton.runs;
    n integer;
BEGIN
    IF set_run_priority.priority IS NULL OR set_run_priority.priority NOT BETWEEN 1 AND 4 THEN
        RAISE EXCEPTION 'baton: priority must be between 1 and 4, got %', coalesce(set_run_priority.priority::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    r := baton._run_for_update(set_run_priority.id);
    IF r.status NOT IN ('queued', 'running', 'paused') THEN
        RAISE EXCEPTION 'baton: run % already finished with status %', r.id, r.status USING ERRCODE = '55000';
    END IF;
    n := baton._reprioritize(r.id, NULL, set_run_priority.priority::smallint);
    UPDATE baton.runs SET priority = set_run_priority.priority, updated_at = now() WHERE runs.id = r.id;
    INSERT INTO baton.task_events (run_id, kind, priority, actor, data)
    VALUES (r.id, 'run_priority_changed', set_run_priority.priority, coalesce(actor, current_user),
            jsonb_build_object('from', r.priority, 'to', set_run_priority.priority, 'jobs_updated', n));
    PERFORM baton._notify(r.id, 'run_priority_changed');
    RETURN n;
END
$$;
