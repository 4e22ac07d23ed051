-- cancel_run cancels a run that has not finished: its unfinished tasks are
-- cancelled with their River jobs (running attempts are interrupted).
-- Returns false when the run had already finished; raises when it does not
-- exist.
CREATE OR REPLACE FUNCTION baton.cancel_run(id bigint, actor text DEFAULT current_user)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    r         baton.runs := baton._run_for_update(id);
    cancelled bigint[];
BEGIN
    IF r.status NOT IN ('queued', 'running', 'paused') THEN
        RETURN false;
    END IF;
    UPDATE baton.runs SET status = 'cancelled', finished_at = now(), updated_at = now(), attention = NULL
    WHERE runs.id = r.id;

    SELECT array_agg(t.id) INTO cancelled FROM baton.run_tasks t
    WHERE t.run_id = r.id AND t.status IN ('pending', 'queued', 'running');
    PERFORM baton._cancel_jobs(cancelled);
    UPDATE baton.run_tasks t SET status = 'cancelled', finished_at = now() WHERE t.id = ANY (cancelled);

    INSERT INTO baton.task_events (run_id, kind, actor) VALUES (r.id, 'run_cancelled', actor);
    PERFORM baton._notify(r.id, 'run_cancelled');
    RETURN true;
END
$$;
