-- _condition_holds evaluates a step's `when` against its parents' final states.
CREATE OR REPLACE FUNCTION baton._condition_holds(p_run_id bigint, p_when text, p_parents text[])
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE p_when
        WHEN 'always' THEN true
        WHEN 'on_failure' THEN coalesce(bool_or(t.status IN ('failed', 'dead')), false)
        -- A step without dependencies (a root being retried) may always run.
        ELSE coalesce(bool_and(t.status = 'succeeded' OR (t.status = 'skipped' AND t.manual_skip)), true)
    END
    FROM baton.run_tasks t
    WHERE t.run_id = p_run_id AND t.step_name = ANY (p_parents);
$$;
