-- cancel_batch cancels every unfinished member run of a batch and ends it
-- as cancelled. Returns false when the batch had already finished; raises
-- P0002 when it does not exist.
CREATE OR REPLACE FUNCTION baton.cancel_batch(p_batch_id bigint, actor text DEFAULT current_user)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    b   baton.batches;
    rid bigint;
BEGIN
    SELECT * INTO b FROM baton.batches WHERE id = p_batch_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'baton: batch % not found', p_batch_id USING ERRCODE = 'P0002';
    END IF;
    IF b.status <> 'running' THEN
        RETURN false;
    END IF;
    FOR rid IN SELECT r.id FROM baton.batch_members m JOIN baton.runs r ON r.id = m.run_id
               WHERE m.batch_id = b.id AND r.status IN ('queued', 'running', 'paused') ORDER BY r.id LOOP
        PERFORM baton.cancel_run(rid, actor);
    END LOOP;
    RETURN baton._finish_batch(b.id, 'cancelled', actor);
END
$$;
