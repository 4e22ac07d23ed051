-- purge_dead_letters removes dead-letter entries older than retention and
-- returns how many it removed. retention must be at least 1 hour: a smaller
-- or negative one raises 22023 rather than removing every entry.
CREATE OR REPLACE FUNCTION baton.purge_dead_letters(retention interval)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    runs_touched bigint[];
    n            integer;
BEGIN
    IF retention IS NULL OR retention < interval '1 hour' THEN
        RAISE EXCEPTION 'baton: retention: must be at least 1 hour, got %', coalesce(retention::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    WITH gone AS (
        DELETE FROM baton.dead_letters d WHERE d.created_at < now() - retention RETURNING d.run_id
    )
    SELECT array_agg(DISTINCT run_id), count(*) INTO runs_touched, n FROM gone;
    PERFORM baton._refresh_attention(x) FROM unnest(coalesce(runs_touched, '{}')) x;
    RETURN n;
END
$$;
