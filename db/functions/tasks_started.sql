-- tasks_started records that workers began attempts of the given tasks (a
-- status hint for operators; it changes no run). Tasks that already
-- finished are left alone.
CREATE OR REPLACE FUNCTION baton.tasks_started(p_ids bigint[], p_attempts integer[], p_started_at timestamptz[])
RETURNS void
LANGUAGE sql AS $$
    UPDATE baton.run_tasks t
    SET status = 'running', attempts = s.attempt, started_at = coalesce(t.started_at, s.started_at)
    FROM unnest(p_ids, p_attempts, p_started_at) AS s(id, attempt, started_at)
    WHERE t.id = s.id AND t.status IN ('queued', 'running');
$$;
