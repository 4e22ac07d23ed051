-- _retry queues a finished task again and lets its run continue from it.
-- New params (p_params, a JSON object) are merged over the task's params,
-- which already hold its task type's defaults under its step's params: each
-- top-level key given replaces that key, a key given as null is removed,
-- and every other key is kept. p_kind names the event (task_retried,
-- task_resubmitted). A compensation task (ADR 0015) can be retried in a
-- finished run: the run's compensation is running again, its status stays.
CREATE OR REPLACE FUNCTION baton._retry(p_task_id bigint, p_params jsonb, p_actor text, p_kind text)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t baton.run_tasks := baton._task_for_update(p_task_id);
    r baton.runs;
BEGIN
    SELECT * INTO r FROM baton.runs WHERE id = t.run_id;
    IF r.status = 'cancelled' AND t.compensates IS NULL THEN
        RAISE EXCEPTION 'baton: run % was cancelled; its tasks cannot be retried', r.id USING ERRCODE = '55000';
    END IF;
    IF t.status NOT IN ('dead', 'failed', 'cancelled', 'skipped') THEN
        RAISE EXCEPTION 'baton: task % (step %) is %; only dead, failed, cancelled or skipped tasks can be retried',
            t.id, t.step_name, t.status USING ERRCODE = '55000';
    END IF;
    IF p_params IS NOT NULL AND jsonb_typeof(p_params) <> 'object' THEN
        RAISE EXCEPTION 'baton: params must be a JSON object, got %', jsonb_typeof(p_params) USING ERRCODE = '22023';
    END IF;

    UPDATE baton.run_tasks
    SET status = 'pending', params = baton._merge_params(params, p_params), resolved_params = NULL, output = NULL,
        error = NULL, error_class = NULL, attempts = 0, started_at = NULL, finished_at = NULL,
        manual_skip = false, river_job_id = NULL, deps_pending = 0
    WHERE id = t.id;
    PERFORM baton._reopen_descendants(t.run_id, t.step_name);
    DELETE FROM baton.dead_letters WHERE task_id = t.id;
    INSERT INTO baton.task_events (run_id, task_id, step_name, kind, actor, data)
    VALUES (t.run_id, t.id, t.step_name, p_kind, p_actor,
            jsonb_build_object('previous_status', t.status, 'new_params', p_params IS NOT NULL));
    PERFORM baton._advance('{}', ARRAY[t.run_id]);
    PERFORM baton._refresh_attention(t.run_id);
    PERFORM baton._notify(t.run_id, p_kind, t.id);
    RETURN true;
END
$$;
