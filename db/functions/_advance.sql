DROP FUNCTION IF EXISTS baton._advance(bigint[], bigint[]);
-- _advance is called, with the runs locked, after the given tasks reached a
-- final state. It releases their children, queues those whose condition
-- holds, skips the others (and, in turn, their dependents), and finishes
-- every affected run that has no task left to run (and the compensation of
-- every run being compensated that has none left). p_settle_runs names runs
-- whose pending tasks with no unfinished dependency are (re)considered too:
-- resume, retry and skip use it after changing a run's shape. p_run_ids, when
-- the caller knows them, are the runs of p_task_ids (saves looking them up).
--
-- Every statement starts from the given ids and reaches other rows through
-- primary keys or the per-run index of run_tasks: lookups are LATERAL
-- subqueries that cannot be flattened (OFFSET 0) or scalar subqueries, so no
-- plan can turn them into a scan of runs by status or of every task, whatever
-- the statistics say.
CREATE OR REPLACE FUNCTION baton._advance(p_task_ids bigint[], p_settle_runs bigint[] DEFAULT '{}',
                                          p_run_ids bigint[] DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    finished   bigint[] := coalesce(p_task_ids, '{}');
    ready      bigint[] := '{}';
    skipped    bigint[] := '{}';
    run_ids    bigint[] := p_run_ids;
    rel_ids    bigint[];
    rel_counts integer[];
    child      record;
    n_finished integer;
BEGIN
    IF run_ids IS NULL THEN
        SELECT array_agg(DISTINCT t.run_id) INTO run_ids
        FROM unnest(finished) AS f(id)
        CROSS JOIN LATERAL (SELECT rt.run_id FROM baton.run_tasks rt WHERE rt.id = f.id OFFSET 0) t;
    END IF;
    SELECT coalesce(array_agg(DISTINCT x), '{}') INTO run_ids
    FROM unnest(coalesce(run_ids, '{}') || coalesce(p_settle_runs, '{}')) AS x;

    -- Tasks already waiting on nothing (settle mode).
    FOR child IN
        SELECT c.id, c.run_id, c.when_cond, c.depends_on FROM baton.run_tasks c
        WHERE c.run_id = ANY (p_settle_runs) AND c.status = 'pending' AND c.deps_pending = 0
    LOOP
        IF baton._condition_holds(child.run_id, child.when_cond, child.depends_on) THEN
            ready := ready || child.id;
        ELSE
            skipped := skipped || child.id;
        END IF;
    END LOOP;

    LOOP
        WITH s AS (
            UPDATE baton.run_tasks t SET status = 'skipped', finished_at = now()
            WHERE t.id = ANY (skipped) AND t.status = 'pending'
            RETURNING t.id, t.run_id, t.step_name, t.when_cond
        )
        INSERT INTO baton.task_events (run_id, task_id, step_name, kind, data)
        SELECT s.run_id, s.id, s.step_name, 'task_skipped',
               jsonb_build_object('reason', 'condition ' || s.when_cond || ' not met')
        FROM s;
        finished := finished || skipped;
        skipped := '{}';
        EXIT WHEN cardinality(finished) = 0;

        -- Children are looked up per finished task through the run's index,
        -- never by scanning every task, then updated through the primary key.
        SELECT coalesce(array_agg(c2.id), '{}'), coalesce(array_agg(c2.n), '{}') INTO rel_ids, rel_counts
        FROM (
            SELECT c2.id, count(*)::integer AS n
            FROM unnest(finished) AS f(id)
            CROSS JOIN LATERAL (
                SELECT d.run_id, d.step_name FROM baton.run_tasks d WHERE d.id = f.id OFFSET 0
            ) d
            CROSS JOIN LATERAL (
                SELECT c.id FROM baton.run_tasks c
                WHERE c.run_id = d.run_id AND d.step_name = ANY (c.depends_on) AND c.status = 'pending'
                OFFSET 0
            ) c2
            GROUP BY c2.id
        ) c2;

        WITH released AS (
            UPDATE baton.run_tasks c
            SET deps_pending = c.deps_pending - r.n
            FROM unnest(rel_ids, rel_counts) AS r(id, n)
            WHERE c.id = ANY (rel_ids) AND c.id = r.id
            RETURNING c.id, c.run_id, c.when_cond, c.depends_on, c.deps_pending
        ), decided AS (
            -- The children waiting on nothing more, with their condition
            -- (baton._condition_holds, set-based) evaluated on their parents.
            SELECT c.id,
                   CASE c.when_cond
                       WHEN 'always' THEN true
                       WHEN 'on_failure' THEN coalesce(bool_or(p.status IN ('failed', 'dead')), false)
                       ELSE coalesce(bool_and(p.status = 'succeeded' OR (p.status = 'skipped' AND p.manual_skip)), true)
                   END AS holds
            FROM released c
            LEFT JOIN LATERAL (
                SELECT p.status, p.manual_skip FROM baton.run_tasks p
                WHERE p.run_id = c.run_id AND p.step_name = ANY (c.depends_on)
                OFFSET 0
            ) p ON true
            WHERE c.deps_pending = 0
            GROUP BY c.id, c.when_cond
        )
        SELECT ready || coalesce(array_agg(d.id) FILTER (WHERE d.holds), '{}'),
               skipped || coalesce(array_agg(d.id) FILTER (WHERE NOT d.holds), '{}')
        INTO ready, skipped
        FROM decided d;
        finished := '{}';
        EXIT WHEN cardinality(skipped) = 0;
    END LOOP;

    -- A paused run keeps its ready tasks pending; resume settles them.
    -- Compensations (ADR 0015) run in a run that has finished.
    PERFORM baton._enqueue(array_agg(t.id))
    FROM baton.run_tasks t
    WHERE t.id = ANY (ready) AND t.status = 'pending'
      AND (t.compensates IS NOT NULL
           OR (SELECT r.status FROM baton.runs r WHERE r.id = t.run_id) IN ('queued', 'running'));

    WITH done AS (
        SELECT x.id,
               coalesce((SELECT true FROM baton.run_tasks t
                         WHERE t.run_id = x.id AND t.status IN ('failed', 'dead', 'cancelled') AND NOT t.optional
                         LIMIT 1), false) AS failed
        FROM unnest(run_ids) AS x(id)
        WHERE (SELECT r.status FROM baton.runs r WHERE r.id = x.id) IN ('queued', 'running', 'paused')
          AND (SELECT true FROM baton.run_tasks t
               WHERE t.run_id = x.id AND t.status IN ('pending', 'queued', 'running') LIMIT 1) IS NULL
    ), fin AS (
        UPDATE baton.runs r
        SET status = CASE WHEN done.failed THEN 'failed' ELSE 'succeeded' END,
            error = CASE WHEN done.failed THEN (
                        SELECT string_agg(t.step_name || ': ' || coalesce(t.error, t.status), '; ' ORDER BY t.step_index)
                        FROM baton.run_tasks t
                        WHERE t.run_id = r.id AND t.status IN ('failed', 'dead', 'cancelled') AND NOT t.optional) END,
            finished_at = now(), updated_at = now()
        FROM done
        WHERE r.id = done.id
        RETURNING r.id, r.status
    ), events AS (
        INSERT INTO baton.task_events (run_id, kind)
        SELECT fin.id, 'run_' || fin.status FROM fin
        RETURNING run_id, kind
    )
    SELECT count(baton._notify(events.run_id, events.kind)) INTO n_finished FROM events;

    -- Runs being compensated end their compensation when none is left.
    PERFORM baton._finish_compensation(x.id)
    FROM unnest(run_ids) AS x(id)
    WHERE (SELECT r.compensation FROM baton.runs r WHERE r.id = x.id) = 'running';
END
$$;
