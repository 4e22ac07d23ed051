-- _finish_compensation ends the compensation of run p_run_id once none of
-- its compensation tasks is left to run: 'compensated' when every one
-- succeeded (event run_compensated), 'failed' otherwise (a compensation is
-- dead, waiting in the dead-letter queue, or was skipped or cancelled; event
-- run_compensation_failed). The run keeps its status. Called by _advance
-- (with the run locked) for runs whose compensation is running; does
-- nothing while a compensation is pending, queued or running.
CREATE OR REPLACE FUNCTION baton._finish_compensation(p_run_id bigint)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    counts jsonb;
    ok     boolean;
BEGIN
    SELECT jsonb_object_agg(s.status, s.n), bool_and(s.status = 'succeeded')
    INTO counts, ok
    FROM (SELECT t.status, count(*) AS n FROM baton.run_tasks t
          WHERE t.run_id = p_run_id AND t.compensates IS NOT NULL GROUP BY t.status) s;
    IF counts IS NULL OR counts ?| ARRAY['pending', 'queued', 'running'] THEN
        RETURN;
    END IF;
    UPDATE baton.runs SET compensation = CASE WHEN ok THEN 'compensated' ELSE 'failed' END, updated_at = now()
    WHERE id = p_run_id AND compensation = 'running';
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO baton.task_events (run_id, kind, data)
    VALUES (p_run_id, CASE WHEN ok THEN 'run_compensated' ELSE 'run_compensation_failed' END,
            jsonb_build_object('tasks', counts));
    PERFORM baton._notify(p_run_id, CASE WHEN ok THEN 'run_compensated' ELSE 'run_compensation_failed' END);
END
$$;
