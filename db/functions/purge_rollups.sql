-- purge_rollups deletes up to p_batch rows of each rollup table
-- (task_rollup_1m, task_rollup_1h) whose bucket is older than retention, by
-- the primary key's leading column, and returns how many it deleted. Call it
-- until it returns less than p_batch. The running totals are kept.
-- retention must be at least 1 hour and p_batch 1..100000.
CREATE OR REPLACE FUNCTION baton.purge_rollups(retention interval, p_batch integer DEFAULT 10000)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n1 integer;
    n2 integer;
BEGIN
    IF retention IS NULL OR retention < interval '1 hour' THEN
        RAISE EXCEPTION 'baton: retention: must be at least 1 hour, got %', coalesce(retention::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF p_batch IS NULL OR p_batch NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'baton: batch: must be between 1 and 100000, got %', coalesce(p_batch::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    DELETE FROM baton.task_rollup_1m x
    WHERE (x.bucket, x.workflow_name, x.task_type, x.owner, x.node, x.kind) IN (
        SELECT o.bucket, o.workflow_name, o.task_type, o.owner, o.node, o.kind FROM baton.task_rollup_1m o
        WHERE o.bucket < now() - retention ORDER BY o.bucket LIMIT p_batch);
    GET DIAGNOSTICS n1 = ROW_COUNT;
    DELETE FROM baton.task_rollup_1h x
    WHERE (x.bucket, x.workflow_name, x.task_type, x.owner, x.node, x.kind) IN (
        SELECT o.bucket, o.workflow_name, o.task_type, o.owner, o.node, o.kind FROM baton.task_rollup_1h o
        WHERE o.bucket < now() - retention ORDER BY o.bucket LIMIT p_batch);
    GET DIAGNOSTICS n2 = ROW_COUNT;
    RETURN greatest(n1, n2);
END
$$;
