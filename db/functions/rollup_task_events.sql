-- rollup_task_events adds the task events past the rollup high-water mark to
-- the 1-minute and 1-hour rollups and to the running totals, at most
-- p_max_events of them (by id), and returns how many it added. Run it again
-- until it returns 0 to catch up. It never rescans: each event is read once.
--
-- Event ids come from a sequence and are drawn before commit, so a
-- transaction may commit event 41 after event 42 is visible. The mark moves
-- only to an id below which nothing can still appear: the last id handed out
-- when no other transaction was running, or a candidate (last id,
-- snapshot xmax) taken on an earlier call once every transaction older than
-- that xmax has ended (ADR 0009). Calls are serialized by the state row's
-- lock; it must run in READ COMMITTED (each statement its own snapshot).
-- New rollup rows are inserted in bucket order, so a table's rows lie in
-- time order as they do when the job rolls each minute, and a time range
-- reads few pages even after a large catch-up (analytics read ranges).
CREATE OR REPLACE FUNCTION baton.rollup_task_events(p_max_events integer DEFAULT 100000)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    st         baton.rollup_state;
    own        xid8;
    seq_last   bigint;
    seq_called boolean;
    snap       pg_snapshot;
    others_min xid8;
    safe       bigint;
    n          bigint := 0;
    last_id    bigint;
BEGIN
    IF p_max_events IS NULL OR p_max_events NOT BETWEEN 1 AND 1000000 THEN
        RAISE EXCEPTION 'baton: max_events: must be between 1 and 1000000, got %', coalesce(p_max_events::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'baton: rollup_task_events must run in READ COMMITTED, not %', current_setting('transaction_isolation')
            USING ERRCODE = '25000';
    END IF;

    SELECT * INTO st FROM baton.rollup_state WHERE id = 1 FOR UPDATE;
    own := pg_current_xact_id();
    -- The last id handed out, then (a later statement, a later snapshot) who
    -- is still running: any transaction holding an id <= seq_last that has
    -- not committed yet is in that snapshot.
    SELECT s.last_value, s.is_called INTO seq_last, seq_called FROM baton.task_events_id_seq s;
    IF NOT seq_called THEN
        seq_last := seq_last - 1;
    END IF;
    snap := pg_current_snapshot();
    SELECT min(x) INTO others_min FROM pg_snapshot_xip(snap) AS x WHERE x <> own;

    IF others_min IS NULL THEN
        st.settled := greatest(st.settled, seq_last);
        st.pending_limit := NULL;
        st.pending_xmax := NULL;
    ELSIF st.pending_xmax IS NOT NULL AND others_min >= st.pending_xmax THEN
        st.settled := greatest(st.settled, st.pending_limit);
        st.pending_limit := seq_last;
        st.pending_xmax := pg_snapshot_xmax(snap);
    ELSIF st.pending_xmax IS NULL THEN
        st.pending_limit := seq_last;
        st.pending_xmax := pg_snapshot_xmax(snap);
    END IF;
    safe := st.settled;

    IF safe > st.hwm THEN
        WITH ev AS MATERIALIZED (
            SELECT e.id, e.time, e.kind, e.duration_ms,
                   coalesce(e.node, '') AS node, coalesce(t.task_type, '') AS task_type,
                   coalesce(r.workflow_name, '') AS workflow_name, coalesce(r.owner, '') AS owner,
                   width_bucket(e.duration_ms - 1, baton._duration_bounds_ms()) + 1 AS b
            FROM (SELECT * FROM baton.task_events e0
                  WHERE e0.id > st.hwm AND e0.id <= safe
                  ORDER BY e0.id LIMIT p_max_events) e
            LEFT JOIN baton.run_tasks t ON t.id = e.task_id
            LEFT JOIN baton.runs r ON r.id = e.run_id
        ), agg AS (
            SELECT date_bin(interval '1 minute', ev.time, timestamptz '2000-01-03') AS minute,
                   date_bin(interval '1 hour', ev.time, timestamptz '2000-01-03') AS hour,
                   ev.workflow_name, ev.task_type, ev.owner, ev.node, ev.kind,
                   count(*) AS events, count(ev.duration_ms) AS duration_count,
                   coalesce(sum(ev.duration_ms), 0) AS duration_sum_ms,
                   min(ev.duration_ms) AS duration_min_ms, max(ev.duration_ms) AS duration_max_ms,
                   ARRAY[count(*) FILTER (WHERE ev.b = 1), count(*) FILTER (WHERE ev.b = 2),
                         count(*) FILTER (WHERE ev.b = 3), count(*) FILTER (WHERE ev.b = 4),
                         count(*) FILTER (WHERE ev.b = 5), count(*) FILTER (WHERE ev.b = 6),
                         count(*) FILTER (WHERE ev.b = 7), count(*) FILTER (WHERE ev.b = 8),
                         count(*) FILTER (WHERE ev.b = 9), count(*) FILTER (WHERE ev.b = 10),
                         count(*) FILTER (WHERE ev.b = 11), count(*) FILTER (WHERE ev.b = 12),
                         count(*) FILTER (WHERE ev.b = 13), count(*) FILTER (WHERE ev.b = 14),
                         count(*) FILTER (WHERE ev.b = 15)] AS duration_buckets
            FROM ev
            GROUP BY 1, 2, 3, 4, 5, 6, 7
        ), m AS (
            INSERT INTO baton.task_rollup_1m AS x
                (bucket, workflow_name, task_type, owner, node, kind, events, duration_count, duration_sum_ms,
                 duration_min_ms, duration_max_ms, duration_buckets)
            SELECT a.minute, a.workflow_name, a.task_type, a.owner, a.node, a.kind, a.events, a.duration_count,
                   a.duration_sum_ms, a.duration_min_ms, a.duration_max_ms, a.duration_buckets
            FROM agg a
            ORDER BY a.minute
            ON CONFLICT (bucket, workflow_name, task_type, owner, node, kind) DO UPDATE SET
                events = x.events + EXCLUDED.events,
                duration_count = x.duration_count + EXCLUDED.duration_count,
                duration_sum_ms = x.duration_sum_ms + EXCLUDED.duration_sum_ms,
                duration_min_ms = least(x.duration_min_ms, EXCLUDED.duration_min_ms),
                duration_max_ms = greatest(x.duration_max_ms, EXCLUDED.duration_max_ms),
                duration_buckets = baton._add_counts(x.duration_buckets, EXCLUDED.duration_buckets)
        ), h AS (
            INSERT INTO baton.task_rollup_1h AS x
                (bucket, workflow_name, task_type, owner, node, kind, events, duration_count, duration_sum_ms,
                 duration_min_ms, duration_max_ms, duration_buckets)
            SELECT a.hour, a.workflow_name, a.task_type, a.owner, a.node, a.kind, sum(a.events), sum(a.duration_count),
                   sum(a.duration_sum_ms), min(a.duration_min_ms), max(a.duration_max_ms),
                   baton._sum_counts(a.duration_buckets)
            FROM agg a
            GROUP BY a.hour, a.workflow_name, a.task_type, a.owner, a.node, a.kind
            ORDER BY a.hour
            ON CONFLICT (bucket, workflow_name, task_type, owner, node, kind) DO UPDATE SET
                events = x.events + EXCLUDED.events,
                duration_count = x.duration_count + EXCLUDED.duration_count,
                duration_sum_ms = x.duration_sum_ms + EXCLUDED.duration_sum_ms,
                duration_min_ms = least(x.duration_min_ms, EXCLUDED.duration_min_ms),
                duration_max_ms = greatest(x.duration_max_ms, EXCLUDED.duration_max_ms),
                duration_buckets = baton._add_counts(x.duration_buckets, EXCLUDED.duration_buckets)
        ), tot AS (
            INSERT INTO baton.task_rollup_totals AS x
                (kind, task_type, events, duration_count, duration_sum_ms, duration_buckets)
            SELECT a.kind, a.task_type, sum(a.events), sum(a.duration_count), sum(a.duration_sum_ms),
                   baton._sum_counts(a.duration_buckets)
            FROM agg a
            GROUP BY a.kind, a.task_type
            ON CONFLICT (kind, task_type) DO UPDATE SET
                events = x.events + EXCLUDED.events,
                duration_count = x.duration_count + EXCLUDED.duration_count,
                duration_sum_ms = x.duration_sum_ms + EXCLUDED.duration_sum_ms,
                duration_buckets = baton._add_counts(x.duration_buckets, EXCLUDED.duration_buckets)
        )
        SELECT count(*), max(ev.id) INTO n, last_id FROM ev;
        -- A full batch stops at its last event; a short one covered up to safe.
        IF n < p_max_events THEN
            last_id := safe;
        END IF;
        st.hwm := greatest(st.hwm, last_id);
    END IF;

    UPDATE baton.rollup_state
    SET hwm = st.hwm, settled = st.settled, pending_limit = st.pending_limit, pending_xmax = st.pending_xmax,
        rolled_at = now(), events_total = events_total + n
    WHERE id = 1;
    RETURN n;
END
$$;
