-- attempt_counts returns the attempt events (task_succeeded, task_dead,
-- task_attempt_failed, task_attempt_interrupted) whose time is in
-- [p_from, p_to), counted per UTC hour, workflow, task type, owner, node and
-- kind, exactly as if every event were read, but mostly from the rollups
-- (ADR 0009, docs/analytics.md):
--   - task_rollup_1h for the whole hours inside the window;
--   - task_rollup_1m for the whole minutes outside those hours;
--   - task_events for the partial minutes at the edges of the window, and for
--     every event past the rollup high-water mark (not rolled up yet).
-- Rolled-up rows hold only events with id <= hwm, raw rows only events with
-- id > hwm or in an edge minute (which no rollup row of the window covers),
-- so nothing is counted twice; one statement sees one snapshot of the
-- rollups and their mark, which the rollup moves in the same transaction.
-- Missing runs or tasks give '' as workflow, owner or task type, as in the
-- rollups. Rows are not summed across the parts: the caller aggregates.
-- LANGUAGE sql, STABLE, not STRICT: the planner inlines it, so the caller's
-- filters reach each part and the bounds fold to constants for the window
-- (timestamptz + interval is only STABLE; the same sum on UTC timestamps is
-- IMMUTABLE, so the planner prunes partitions while planning).
-- p_mark_hint is a high-water mark the caller read earlier (0 if unknown):
-- the mark only grows, so "id > p_mark_hint" is implied by "id > mark" and
-- changes no figure; it lets the planner see how few events are past the
-- mark (the mark itself is read by the statement, in its snapshot, which it
-- cannot plan with), so the plan stays small (no hash joins over whole
-- tables, no JIT).
CREATE OR REPLACE FUNCTION baton.attempt_counts(p_from timestamptz, p_to timestamptz, p_mark_hint bigint)
RETURNS TABLE (hour timestamptz, workflow_name text, task_type text, owner text, node text, kind text,
               events bigint, duration_count bigint, duration_sum_ms bigint)
LANGUAGE sql STABLE AS $$
    -- Bounds: ceil/floor of p_from/p_to to the minute and the hour (buckets
    -- are date_bin from 2000-01-03, UTC-aligned). Whole minutes are
    -- [m_lo, m_hi), whole hours [h_lo, h_hi); either may be empty.
    --   m_lo = date_bin('1 minute', p_from + '1 minute' - '1 µs')
    --   m_hi = date_bin('1 minute', p_to)
    --   h_lo = date_bin('1 hour', p_from + '1 hour' - '1 µs')
    --   h_hi = date_bin('1 hour', p_to)
    SELECT h.bucket, h.workflow_name, h.task_type, h.owner, h.node, h.kind, h.events, h.duration_count, h.duration_sum_ms
    FROM baton.task_rollup_1h h
    WHERE h.kind IN ('task_succeeded', 'task_dead', 'task_attempt_failed', 'task_attempt_interrupted')
      AND h.bucket >= date_bin(interval '1 hour', ((p_from AT TIME ZONE 'UTC') + interval '1 hour' - interval '1 microsecond') AT TIME ZONE 'UTC', timestamptz '2000-01-03')
      AND h.bucket < date_bin(interval '1 hour', p_to, timestamptz '2000-01-03')
    UNION ALL
    -- Whole minutes before the first whole hour: [m_lo, least(h_lo, m_hi)).
    SELECT date_bin(interval '1 hour', m.bucket, timestamptz '2000-01-03'), m.workflow_name, m.task_type, m.owner, m.node,
           m.kind, m.events, m.duration_count, m.duration_sum_ms
    FROM baton.task_rollup_1m m
    WHERE m.kind IN ('task_succeeded', 'task_dead', 'task_attempt_failed', 'task_attempt_interrupted')
      AND m.bucket >= date_bin(interval '1 minute', ((p_from AT TIME ZONE 'UTC') + interval '1 minute' - interval '1 microsecond') AT TIME ZONE 'UTC', timestamptz '2000-01-03')
      AND m.bucket < least(date_bin(interval '1 hour', ((p_from AT TIME ZONE 'UTC') + interval '1 hour' - interval '1 microsecond') AT TIME ZONE 'UTC', timestamptz '2000-01-03'),
                           date_bin(interval '1 minute', p_to, timestamptz '2000-01-03'))
    UNION ALL
    -- Whole minutes after the last whole hour: [greatest(h_hi, least(h_lo, m_hi)), m_hi)
    -- (when no whole hour fits, this starts where the first part ended).
    SELECT date_bin(interval '1 hour', m.bucket, timestamptz '2000-01-03'), m.workflow_name, m.task_type, m.owner, m.node,
           m.kind, m.events, m.duration_count, m.duration_sum_ms
    FROM baton.task_rollup_1m m
    WHERE m.kind IN ('task_succeeded', 'task_dead', 'task_attempt_failed', 'task_attempt_interrupted')
      AND m.bucket >= greatest(date_bin(interval '1 hour', p_to, timestamptz '2000-01-03'),
                               least(date_bin(interval '1 hour', ((p_from AT TIME ZONE 'UTC') + interval '1 hour' - interval '1 microsecond') AT TIME ZONE 'UTC', timestamptz '2000-01-03'),
                                     date_bin(interval '1 minute', p_to, timestamptz '2000-01-03')))
      AND m.bucket < date_bin(interval '1 minute', p_to, timestamptz '2000-01-03')
    UNION ALL
    -- Raw events: the partial minutes at both edges (any id), and the whole
    -- minutes' events past the high-water mark.
    SELECT date_bin(interval '1 hour', e.time, timestamptz '2000-01-03'), coalesce(r.workflow_name, ''),
           coalesce(t.task_type, ''), coalesce(r.owner, ''), coalesce(e.node, ''), e.kind, 1::bigint,
           (e.duration_ms IS NOT NULL)::integer::bigint, coalesce(e.duration_ms, 0)
    FROM (
        SELECT e1.time, e1.run_id, e1.task_id, e1.node, e1.kind, e1.duration_ms
        FROM baton.task_events e1
        WHERE e1.kind IN ('task_succeeded', 'task_dead', 'task_attempt_failed', 'task_attempt_interrupted')
          AND e1.time >= p_from
          AND e1.time < least(date_bin(interval '1 minute', ((p_from AT TIME ZONE 'UTC') + interval '1 minute' - interval '1 microsecond') AT TIME ZONE 'UTC', timestamptz '2000-01-03'), p_to)
        UNION ALL
        SELECT e2.time, e2.run_id, e2.task_id, e2.node, e2.kind, e2.duration_ms
        FROM baton.task_events e2
        WHERE e2.kind IN ('task_succeeded', 'task_dead', 'task_attempt_failed', 'task_attempt_interrupted')
          AND e2.time >= greatest(date_bin(interval '1 minute', p_to, timestamptz '2000-01-03'),
                                  least(date_bin(interval '1 minute', ((p_from AT TIME ZONE 'UTC') + interval '1 minute' - interval '1 microsecond') AT TIME ZONE 'UTC', timestamptz '2000-01-03'), p_to))
          AND e2.time < p_to
        UNION ALL
        SELECT e3.time, e3.run_id, e3.task_id, e3.node, e3.kind, e3.duration_ms
        FROM baton.task_events e3
        WHERE e3.kind IN ('task_succeeded', 'task_dead', 'task_attempt_failed', 'task_attempt_interrupted')
          AND e3.id > (SELECT s.hwm FROM baton.rollup_state s WHERE s.id = 1)
          AND e3.id > p_mark_hint
          AND e3.time >= least(date_bin(interval '1 minute', ((p_from AT TIME ZONE 'UTC') + interval '1 minute' - interval '1 microsecond') AT TIME ZONE 'UTC', timestamptz '2000-01-03'), p_to)
          AND e3.time < greatest(date_bin(interval '1 minute', p_to, timestamptz '2000-01-03'),
                                 least(date_bin(interval '1 minute', ((p_from AT TIME ZONE 'UTC') + interval '1 minute' - interval '1 microsecond') AT TIME ZONE 'UTC', timestamptz '2000-01-03'), p_to))
    ) e
    -- One index lookup per raw event (LIMIT 1 keeps the planner from turning
    -- these into hash joins over whole tables: it cannot know at plan time
    -- how few events are past the mark).
    LEFT JOIN LATERAL (SELECT t0.task_type FROM baton.run_tasks t0 WHERE t0.id = e.task_id LIMIT 1) t ON true
    LEFT JOIN LATERAL (SELECT r0.workflow_name, r0.owner FROM baton.runs r0 WHERE r0.id = e.run_id LIMIT 1) r ON true
$$;
