DROP FUNCTION IF EXISTS baton._condition_holds(bigint, text, text[]);
-- _conditions_hold evaluates the `when` of the given tasks, whose parents
-- have all reached a final state, against those states: always; on_failure
-- (a parent failed or is dead); otherwise on_success (every parent succeeded
-- or was skipped by an operator). A task without parents (a root being
-- retried) may always run. One row per task that exists.
--
-- A plain SQL function over one SELECT: the planner inlines it into the
-- caller's statement. Each parent is reached by its (run_id, step_name) key,
-- one lookup per name in depends_on, never by reading the run's other tasks
-- (filtering the run's tasks on `step_name = ANY (depends_on)` read all 22
-- tasks of a release pipeline for every child).
CREATE OR REPLACE FUNCTION baton._conditions_hold(p_task_ids bigint[])
RETURNS TABLE (task_id bigint, holds boolean)
LANGUAGE sql STABLE AS $$
    SELECT c.id,
           CASE c.when_cond
               WHEN 'always' THEN true
               WHEN 'on_failure' THEN coalesce(bool_or(p.status IN ('failed', 'dead')), false)
               ELSE coalesce(bool_and(p.status = 'succeeded' OR (p.status = 'skipped' AND p.manual_skip)), true)
           END
    FROM baton.run_tasks c
    LEFT JOIN LATERAL (
        SELECT pt.status, pt.manual_skip
        FROM unnest(c.depends_on) AS parent(step_name)
        CROSS JOIN LATERAL (
            SELECT t.status, t.manual_skip FROM baton.run_tasks t
            WHERE t.run_id = c.run_id AND t.step_name = parent.step_name
            OFFSET 0
        ) pt
    ) p ON true
    WHERE c.id = ANY (p_task_ids)
    GROUP BY c.id, c.when_cond;
$$;
