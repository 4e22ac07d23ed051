-- retry_batch starts again every member of a batch whose run failed or was
-- cancelled: a new run of the same workflow version with the same input,
-- priority, owner and tags (trigger 'batch'), which becomes the member's
-- run. The batch is running again. Returns how many members were retried;
-- raises P0002 when the batch does not exist.
CREATE OR REPLACE FUNCTION baton.retry_batch(p_batch_id bigint, actor text DEFAULT current_user)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    b   baton.batches;
    m   record;
    rid bigint;
    n   integer := 0;
BEGIN
    SELECT * INTO b FROM baton.batches WHERE id = p_batch_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'baton: batch % not found', p_batch_id USING ERRCODE = 'P0002';
    END IF;
    FOR m IN SELECT bm.idx, r.workflow_name, r.workflow_version, r.input, r.priority, r.owner, r.tags
             FROM baton.batch_members bm JOIN baton.runs r ON r.id = bm.run_id
             WHERE bm.batch_id = b.id AND r.status IN ('failed', 'cancelled')
             ORDER BY bm.idx LOOP
        SELECT s.run_id INTO rid
        FROM baton._start_run(m.workflow_name, m.input,
                              jsonb_build_object('version', m.workflow_version, 'priority', m.priority,
                                                 'owner', m.owner, 'tags', to_jsonb(m.tags)),
                              'batch', b.id::text) s;
        UPDATE baton.batch_members SET run_id = rid, retries = retries + 1
        WHERE batch_id = b.id AND idx = m.idx;
        n := n + 1;
    END LOOP;
    IF n > 0 THEN
        UPDATE baton.batches SET status = 'running', finished_at = NULL, updated_at = now() WHERE id = b.id;
        INSERT INTO baton.task_events (kind, actor, data)
        VALUES ('batch_retried', actor, jsonb_build_object('batch_id', b.id, 'members', n));
        PERFORM pg_notify('baton_events', json_build_object('kind', 'batch_retried', 'batch_id', b.id)::text);
    END IF;
    RETURN n;
END
$$;
