-- tasks_started records that workers began attempts of the given tasks (a
-- status hint for operators; it changes no run). Tasks that already
-- finished are left alone, and so are tasks another transaction holds
-- (their outcome is being recorded): it locks the tasks with SKIP LOCKED and
-- never waits for a lock, so it cannot deadlock with an outcome (see the
-- lock order in internal/engine).
--
-- It writes no event row (the hint is not part of the audit trail) but
-- notifies baton_events with kind task_started and the ids of the tasks it
-- marked, per run and at most 100 ids a notice (payloads are limited to
-- 8000 bytes): the live stream reads those tasks and sends a transient
-- task_started event, so a dashboard shows the task running at once.
CREATE OR REPLACE FUNCTION baton.tasks_started(p_ids bigint[], p_attempts integer[], p_started_at timestamptz[])
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_notices text[];
BEGIN
    -- Each given task is locked (SKIP LOCKED: never waiting) and updated
    -- through its primary key, driven from the given ids: joining the ids
    -- with a separately locked set let a generic plan rescan the ids for
    -- every locked task (62,250 comparisons for 250 tasks at a million runs).
    WITH marked AS (
        UPDATE baton.run_tasks t
        SET status = 'running', attempts = l.attempt, started_at = coalesce(t.started_at, l.started_at)
        FROM (
            SELECT s.id, s.attempt, s.started_at
            FROM unnest(p_ids, p_attempts, p_started_at) AS s(id, attempt, started_at)
            CROSS JOIN LATERAL (
                SELECT 1 FROM baton.run_tasks x
                WHERE x.id = s.id AND x.status IN ('queued', 'running')
                FOR UPDATE SKIP LOCKED
            ) x
        ) l
        WHERE t.id = l.id AND t.status IN ('queued', 'running')
        RETURNING t.id, t.run_id
    ), numbered AS (
        SELECT id, run_id, (row_number() OVER (PARTITION BY run_id ORDER BY id) - 1) / 100 AS chunk
        FROM marked
    )
    SELECT array_agg(json_build_object('kind', 'task_started', 'run_id', run_id, 'task_ids', ids)::text)
    INTO v_notices
    FROM (SELECT run_id, array_agg(id ORDER BY id) AS ids FROM numbered GROUP BY run_id, chunk) g;

    PERFORM pg_notify('baton_events', n) FROM unnest(v_notices) AS n;
END;
$$;
