-- _lock_runs locks the given runs in id order.
CREATE OR REPLACE FUNCTION baton._lock_runs(p_run_ids bigint[])
RETURNS void
LANGUAGE sql AS $$
    SELECT NULL::void FROM (
        SELECT count(*) FROM (
            SELECT r.id FROM baton.runs r WHERE r.id = ANY (p_run_ids) ORDER BY r.id FOR UPDATE
        ) locked
    ) counted;
$$;
