-- _maintain_daily_partitions keeps the time-partitioned table baton.<tbl>
-- (task_events, events, node_metrics): it creates daily partitions
-- <tbl>_pYYYYMMDD from yesterday to days_ahead days ahead and drops those
-- wholly older than retention, or drops chunks past retention when the table
-- is a TimescaleDB hypertable. A day that already has rows in the default
-- partition <tbl>_default is left there (creating its partition would fail),
-- and rows of the default partition past retention are deleted. Safe to call
-- repeatedly and from several nodes (an advisory lock per table). days_ahead
-- must be between 0 and 90 and retention at least 1 hour: other values raise
-- 22023 (a negative retention would drop every partition). Returns how many
-- partitions or chunks it created or dropped.
CREATE OR REPLACE FUNCTION baton._maintain_daily_partitions(tbl text, days_ahead integer, retention interval)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    parent    regclass := format('baton.%I', tbl)::regclass;
    day       date;
    part      record;
    changed   integer := 0;
    upper_txt text;
    day_free  boolean;
BEGIN
    IF days_ahead IS NULL OR days_ahead NOT BETWEEN 0 AND 90 THEN
        RAISE EXCEPTION 'baton: days_ahead: must be between 0 and 90, got %', coalesce(days_ahead::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF retention IS NULL OR retention < interval '1 hour' THEN
        RAISE EXCEPTION 'baton: retention: must be at least 1 hour, got %', coalesce(retention::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('baton.maintain_partitions.' || tbl));

    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
       AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = parent AND c.relkind = 'r') THEN
        EXECUTE format('SELECT count(*) FROM drop_chunks(%L, older_than => now() - %L::interval)',
                       parent::text, retention) INTO changed;
        RETURN changed;
    END IF;

    FOR day IN SELECT generate_series(current_date - 1, current_date + days_ahead, interval '1 day')::date LOOP
        IF to_regclass(format('baton.%I', tbl || '_p' || to_char(day, 'YYYYMMDD'))) IS NULL THEN
            EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM baton.%I WHERE time >= %L AND time < %L)',
                           tbl || '_default', day::timestamptz, (day + 1)::timestamptz) INTO day_free;
            IF day_free THEN
                EXECUTE format('CREATE TABLE baton.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                               tbl || '_p' || to_char(day, 'YYYYMMDD'), parent, day::timestamptz, (day + 1)::timestamptz);
                changed := changed + 1;
            END IF;
        END IF;
    END LOOP;

    FOR part IN
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE i.inhparent = parent AND n.nspname = 'baton'
          AND c.relname ~ ('^' || tbl || '_p[0-9]{8}$')
    LOOP
        upper_txt := substring(part.bound FROM 'TO \(''([^'']+)''\)');
        IF upper_txt IS NOT NULL AND upper_txt::timestamptz <= now() - retention THEN
            EXECUTE format('DROP TABLE baton.%I', part.relname);
            changed := changed + 1;
        END IF;
    END LOOP;
    EXECUTE format('DELETE FROM baton.%I WHERE time < now() - %L::interval', tbl || '_default', retention);
    RETURN changed;
END
$$;
