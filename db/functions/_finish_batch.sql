-- _finish_batch ends a running batch with status and logs batch_finished
-- (run_id NULL; data: the batch id, its status and its members by run
-- status), and notifies. It does nothing for a batch already finished.
CREATE OR REPLACE FUNCTION baton._finish_batch(p_batch_id bigint, p_status text, p_actor text)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    counts jsonb;
BEGIN
    UPDATE baton.batches b SET status = p_status, finished_at = now(), updated_at = now()
    WHERE b.id = p_batch_id AND b.status = 'running';
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    SELECT coalesce(jsonb_object_agg(s.status, s.n), '{}') INTO counts
    FROM (SELECT r.status, count(*) AS n FROM baton.batch_members m JOIN baton.runs r ON r.id = m.run_id
          WHERE m.batch_id = p_batch_id GROUP BY r.status) s;
    INSERT INTO baton.task_events (kind, actor, data)
    VALUES ('batch_finished', p_actor, jsonb_build_object('batch_id', p_batch_id, 'status', p_status, 'members', counts));
    PERFORM pg_notify('baton_events', json_build_object('kind', 'batch_finished', 'batch_id', p_batch_id)::text);
    RETURN true;
END
$$;
