-- maintain_node_metric_partitions does for baton.node_metrics (worker node
-- heartbeats) what maintain_event_partitions does for task_events: it creates
-- daily partitions from yesterday to days_ahead days ahead and drops those
-- wholly older than retention (chunks on a hypertable). Safe to call
-- repeatedly and from several nodes (advisory lock). days_ahead must be
-- between 0 and 90 and retention at least 1 hour: other values raise 22023.
CREATE OR REPLACE FUNCTION baton.maintain_node_metric_partitions(days_ahead integer DEFAULT 7, retention interval DEFAULT '90 days')
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
    PERFORM pg_advisory_xact_lock(hashtext('baton.maintain_node_metric_partitions'));

    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
       AND EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = 'baton' AND c.relname = 'node_metrics' AND c.relkind = 'r') THEN
        EXECUTE format('SELECT count(*) FROM drop_chunks(%L, older_than => now() - %L::interval)',
                       'baton.node_metrics', retention) INTO changed;
        RETURN changed;
    END IF;

    FOR day IN SELECT generate_series(current_date - 1, current_date + days_ahead, interval '1 day')::date LOOP
        IF to_regclass(format('baton.node_metrics_p%s', to_char(day, 'YYYYMMDD'))) IS NULL THEN
            -- Rows already in the default partition for that day would make
            -- the CREATE fail: leave such a day in the default partition.
            IF NOT EXISTS (SELECT 1 FROM baton.node_metrics_default
                           WHERE time >= day::timestamptz AND time < (day + 1)::timestamptz) THEN
                EXECUTE format('CREATE TABLE baton.%I PARTITION OF baton.node_metrics FOR VALUES FROM (%L) TO (%L)',
                               'node_metrics_p' || to_char(day, 'YYYYMMDD'), day::timestamptz, (day + 1)::timestamptz);
                changed := changed + 1;
            END IF;
        END IF;
    END LOOP;

    FOR part IN
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE i.inhparent = 'baton.node_metrics'::regclass AND n.nspname = 'baton'
          AND c.relname ~ '^node_metrics_p[0-9]{8}$'
    LOOP
        upper_txt := substring(part.bound FROM 'TO \(''([^'']+)''\)');
        IF upper_txt IS NOT NULL AND upper_txt::timestamptz <= now() - retention THEN
            EXECUTE format('DROP TABLE baton.%I', part.relname);
            changed := changed + 1;
        END IF;
    END LOOP;
    DELETE FROM baton.node_metrics_default WHERE time < now() - retention;
    RETURN changed;
END
$$;
