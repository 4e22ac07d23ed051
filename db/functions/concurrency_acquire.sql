-- concurrency_acquire takes, for task p_task_id running on p_node, one lease
-- per concurrency key in p_keys, each key allowing at most the matching
-- p_limits entry of unexpired leases at once. It takes all of them or none:
-- acquired is false, and blocked_by names a full key, when any key is at its
-- limit. Leases last p_ttl_ms. A task that already holds a key's lease (its
-- job delivered again) keeps it and has it renewed.
--
-- Keys are locked in sorted order (transaction-scoped advisory locks), so
-- concurrent acquisitions of overlapping keys serialize without deadlock.
CREATE OR REPLACE FUNCTION baton.concurrency_acquire(p_task_id bigint, p_node text, p_keys text[], p_limits integer[],
                                                     p_ttl_ms bigint, OUT acquired boolean, OUT blocked_by text)
LANGUAGE plpgsql AS $$
DECLARE
    k text;
BEGIN
    acquired := false;
    IF cardinality(p_keys) IS DISTINCT FROM cardinality(p_limits) THEN
        RAISE EXCEPTION 'baton: concurrency keys and limits differ in length' USING ERRCODE = '22023';
    END IF;
    FOR k IN SELECT DISTINCT u.key FROM unnest(p_keys) AS u(key) ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended('baton.concurrency:' || k, 0));
    END LOOP;

    DELETE FROM baton.concurrency_leases l WHERE l.key = ANY (p_keys) AND l.expires_at <= now();

    SELECT r.key INTO blocked_by
    FROM unnest(p_keys, p_limits) AS r(key, lim)
    WHERE (SELECT count(*) FROM baton.concurrency_leases l
           WHERE l.key = r.key AND l.task_id <> p_task_id) >= r.lim
    ORDER BY r.key
    LIMIT 1;
    IF blocked_by IS NOT NULL THEN
        RETURN;
    END IF;

    INSERT INTO baton.concurrency_leases (key, task_id, node, expires_at)
    SELECT DISTINCT u.key, p_task_id, p_node, now() + p_ttl_ms * interval '1 millisecond'
    FROM unnest(p_keys) AS u(key)
    ON CONFLICT (key, task_id) DO UPDATE SET node = EXCLUDED.node, expires_at = EXCLUDED.expires_at;
    acquired := true;
END
$$;
