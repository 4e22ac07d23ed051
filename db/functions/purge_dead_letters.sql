-- purge_dead_letters removes dead-letter entries older than retention and
-- returns how many it removed.
CREATE OR REPLACE FUNCTION baton.purge_dead_letters(retention interval)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    runs_touched bigint[];
    n            integer;
BEGIN
    WITH gone AS (
        DELETE FROM baton.dead_letters d WHERE d.created_at < now() - retention RETURNING d.run_id
    )
    SELECT array_agg(DISTINCT run_id), count(*) INTO runs_touched, n FROM gone;
    PERFORM baton._refresh_attention(x) FROM unnest(coalesce(runs_touched, '{}')) x;
    RETURN n;
END
$$;
