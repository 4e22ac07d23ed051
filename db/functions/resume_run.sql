-- resume_run resumes a paused run: tasks whose dependencies are done are
-- queued. Returns false when the run was not paused.
CREATE OR REPLACE FUNCTION baton.resume_run(id bigint, actor text DEFAULT current_user)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    r baton.runs := baton._run_for_update(id);
BEGIN
    IF r.status <> 'paused' THEN
        RETURN false;
    END IF;
    UPDATE baton.runs SET status = 'running', updated_at = now() WHERE runs.id = r.id;
    INSERT INTO baton.task_events (run_id, kind, actor) VALUES (r.id, 'run_resumed', actor);
    PERFORM baton._advance('{}', ARRAY[r.id]);
    PERFORM baton._notify(r.id, 'run_resumed');
    RETURN true;
END
$$;
