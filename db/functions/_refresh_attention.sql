-- _refresh_attention flags a run as needing attention while one of its
-- non-optional tasks is dead and still in the dead-letter queue, and clears
-- the flag otherwise. In a cancelled run only a dead compensation task
-- (ADR 0015) needs an operator; a dead compensation is named first.
CREATE OR REPLACE FUNCTION baton._refresh_attention(p_run_id bigint)
RETURNS void
LANGUAGE sql AS $$
    UPDATE baton.runs r
    SET attention = (
            SELECT 'step ' || t.step_name || ' is dead after ' || t.attempts || ' attempt(s): ' || coalesce(t.error, '')
            FROM baton.run_tasks t JOIN baton.dead_letters d ON d.task_id = t.id
            WHERE t.run_id = r.id AND t.status = 'dead' AND NOT t.optional
              AND (r.status <> 'cancelled' OR t.compensates IS NOT NULL)
            ORDER BY t.compensates IS NULL, t.step_index LIMIT 1),
        updated_at = now()
    WHERE r.id = p_run_id;
$$;
