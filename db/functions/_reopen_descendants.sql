-- _reopen_descendants makes the run able to continue below a step again:
-- descendants skipped because of the step's outcome become pending, and
-- every pending descendant recounts its unfinished dependencies. The run,
-- unless paused, is running again (below a compensation task, its
-- compensation is).
CREATE OR REPLACE FUNCTION baton._reopen_descendants(p_run_id bigint, p_step text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    below bigint[];
BEGIN
    WITH RECURSIVE down(id, step_name) AS (
        SELECT c.id, c.step_name FROM baton.run_tasks c
        WHERE c.run_id = p_run_id AND p_step = ANY (c.depends_on)
        UNION
        SELECT c.id, c.step_name FROM baton.run_tasks c JOIN down d ON d.step_name = ANY (c.depends_on)
        WHERE c.run_id = p_run_id
    )
    SELECT array_agg(id) INTO below FROM down;

    UPDATE baton.run_tasks t SET status = 'pending', finished_at = NULL
    WHERE t.id = ANY (below) AND t.status = 'skipped' AND NOT t.manual_skip;

    UPDATE baton.run_tasks c
    SET deps_pending = (SELECT count(*) FROM baton.run_tasks p
                        WHERE p.run_id = c.run_id AND p.step_name = ANY (c.depends_on)
                          AND p.status IN ('pending', 'queued', 'running'))
    WHERE c.id = ANY (below) AND c.status = 'pending';

    IF p_step LIKE 'compensate:%' THEN
        -- A compensation (ADR 0015; no step name has a colon): the run
        -- stays finished and its compensation runs again.
        UPDATE baton.runs r SET compensation = 'running', updated_at = now() WHERE r.id = p_run_id;
        RETURN;
    END IF;
    UPDATE baton.runs r
    SET status = CASE WHEN r.status = 'paused' THEN 'paused' ELSE 'running' END,
        finished_at = NULL, error = NULL, updated_at = now()
    WHERE r.id = p_run_id;
END
$$;
