-- maintain_event_partitions creates daily partitions of task_events from
-- yesterday to days_ahead days ahead and drops those wholly older than
-- retention. On a hypertable it drops chunks past retention instead. It is
-- safe to call repeatedly and from several nodes (it takes an advisory lock).
-- days_ahead must be between 0 and 90 and retention at least 1 hour: other
-- values raise 22023 (a negative retention would drop every partition).
CREATE OR REPLACE FUNCTION baton.maintain_event_partitions(days_ahead integer DEFAULT 7, retention interval DEFAULT '90 days')
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    day       date;
    part      record;
    changed   integer := 0;
    upper_txt text;
BEGIN
    IF days_ahead IS NULL OR days_ahead NOT BETWEEN 0 AND 90 THEN
        RAISE EXCEPTION 'baton: days_ahead: must be between 0 and 90, got %', coalesce(days_ahead::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF retention IS NULL OR retention < interval '1 hour' THEN
        RAISE EXCEPTION 'baton: retention: must be at least 1 hour, got %', coalesce(retention::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('baton.maintain_event_partitions'));

    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
       AND EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = 'baton' AND c.relname = 'task_events' AND c.relkind = 'r') THEN
        EXECUTE format('SELECT count(*) FROM drop_chunks(%L, older_than => now() - %L::interval)',
                       'baton.task_events', retention) INTO changed;
        RETURN changed;
    END IF;

    FOR day IN SELECT generate_series(current_date - 1, current_date + days_ahead, interval '1 day')::date LOOP
        IF to_regclass(format('baton.task_events_p%s', to_char(day, 'YYYYMMDD'))) IS NULL THEN
            EXECUTE format('CREATE TABLE baton.%I PARTITION OF baton.task_events FOR VALUES FROM (%L) TO (%L)',
                           'task_events_p' || to_char(day, 'YYYYMMDD'), day::timestamptz, (day + 1)::timestamptz);
            changed := changed + 1;
        END IF;
    END LOOP;

    FOR part IN
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE i.inhparent = 'baton.task_events'::regclass AND n.nspname = 'baton'
          AND c.relname ~ '^task_events_p[0-9]{8}$'
    LOOP
        upper_txt := substring(part.bound FROM 'TO \(''([^'']+)''\)');
        IF upper_txt IS NOT NULL AND upper_txt::timestamptz <= now() - retention THEN
            EXECUTE format('DROP TABLE baton.%I', part.relname);
            changed := changed + 1;
        END IF;
    END LOOP;
    RETURN changed;
END
$$;
