-- purge_finished_runs deletes up to p_batch runs that finished (succeeded,
-- failed or cancelled) more than retention ago, oldest id first, with their
-- tasks and dead letters (ON DELETE CASCADE), and returns how many runs it
-- deleted. Call it until it returns less than p_batch. Runs not finished
-- are kept whatever their age. Their events go with their task_events
-- partition. retention must be at least 1 hour and p_batch 1..10000:
-- other values raise 22023.
CREATE OR REPLACE FUNCTION baton.purge_finished_runs(retention interval, p_batch integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    IF retention IS NULL OR retention < interval '1 hour' THEN
        RAISE EXCEPTION 'baton: retention: must be at least 1 hour, got %', coalesce(retention::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF p_batch IS NULL OR p_batch NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'baton: batch: must be between 1 and 10000, got %', coalesce(p_batch::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    -- runs_status_id_idx (status, id) walks each final status from the
    -- oldest id; old runs have the smallest ids, so the scan stops early.
    DELETE FROM baton.runs r
    WHERE r.id IN (
        SELECT o.id FROM baton.runs o
        WHERE o.status IN ('succeeded', 'failed', 'cancelled') AND o.finished_at < now() - retention
        ORDER BY o.id
        LIMIT p_batch
        FOR UPDATE SKIP LOCKED
    );
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
