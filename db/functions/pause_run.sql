-- pause_run pauses a running run: tasks already running finish, nothing new
-- starts (waiting tasks go back to pending, their River jobs cancelled) until
-- resume_run. Returns false when the run was already paused.
CREATE OR REPLACE FUNCTION baton.pause_run(id bigint, actor text DEFAULT current_user)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    r       baton.runs := baton._run_for_update(id);
    waiting bigint[];
BEGIN
    IF r.status = 'paused' THEN
        RETURN false;
    END IF;
    IF r.status NOT IN ('queued', 'running') THEN
        RAISE EXCEPTION 'baton: run % already finished with status %', r.id, r.status USING ERRCODE = '55000';
    END IF;
    UPDATE baton.runs SET status = 'paused', updated_at = now() WHERE runs.id = r.id;

    SELECT array_agg(t.id) INTO waiting
    FROM baton.run_tasks t JOIN public.river_job j ON j.id = t.river_job_id
    WHERE t.run_id = r.id AND t.status = 'queued' AND j.state IN ('available', 'scheduled', 'retryable', 'pending');
    PERFORM baton._cancel_jobs(waiting);
    UPDATE baton.run_tasks t SET status = 'pending', river_job_id = NULL, deps_pending = 0, queued_at = NULL
    WHERE t.id = ANY (waiting);

    INSERT INTO baton.task_events (run_id, kind, actor, data)
    VALUES (r.id, 'run_paused', actor, jsonb_build_object('tasks_held', coalesce(cardinality(waiting), 0)));
    PERFORM baton._notify(r.id, 'run_paused');
    RETURN true;
END
$$;
