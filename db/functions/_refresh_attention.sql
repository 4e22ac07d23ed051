-- _refresh_attention flags a run as needing attention while one of its
-- non-optional tasks is dead and still in the dead-letter queue, and clears
-- the flag otherwise.
CREATE OR REPLACE FUNCTION baton._refresh_attention(p_run_id bigint)
RETURNS void
LANGUAGE sql AS $$
    UPDATE baton.runs r
    SET attention = CASE WHEN r.status = 'cancelled' THEN NULL ELSE (
            SELECT 'step ' || t.step_name || ' is dead after ' || t.attempts || ' attempt(s): ' || coalesce(t.error, '')
            FROM baton.run_tasks t JOIN baton.dead_letters d ON d.task_id = t.id
            WHERE t.run_id = r.id AND t.status = 'dead' AND NOT t.optional
            ORDER BY t.step_index LIMIT 1) END,
        updated_at = now()
    WHERE r.id = p_run_id;
$$;
