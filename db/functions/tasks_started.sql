-- tasks_started records that workers began attempts of the given tasks (a
-- status hint for operators; it changes no run). Tasks that already
-- finished are left alone, and so are tasks another transaction holds
-- (their outcome is being recorded): it locks the tasks in id order with
-- SKIP LOCKED and never waits for a lock, so it cannot deadlock with an
-- outcome (see the lock order in internal/engine).
CREATE OR REPLACE FUNCTION baton.tasks_started(p_ids bigint[], p_attempts integer[], p_started_at timestamptz[])
RETURNS void
LANGUAGE sql AS $$
    WITH locked AS (
        SELECT t.id FROM baton.run_tasks t
        WHERE t.id = ANY (p_ids) AND t.status IN ('queued', 'running')
        ORDER BY t.id
        FOR UPDATE SKIP LOCKED
    )
    UPDATE baton.run_tasks t
    SET status = 'running', attempts = s.attempt, started_at = coalesce(t.started_at, s.started_at)
    FROM unnest(p_ids, p_attempts, p_started_at) AS s(id, attempt, started_at)
    JOIN locked ON locked.id = s.id
    WHERE t.id = s.id AND t.status IN ('queued', 'running');
$$;
