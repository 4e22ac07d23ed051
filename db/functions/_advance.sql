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
--
-- Each task is written once per call: a child still waiting on other parents
-- gets its new count of pending parents; a child waiting on nothing more is
-- decided first and then written once, as queued (by _enqueue), skipped, or
-- (in a paused run) pending with nothing to wait for. A row written twice in
-- one transaction costs a second row version and a foreign key check.
--
-- A statement whose input array is empty is not run at all: PL/pgSQL plans
-- such a statement afresh at every call (its custom plan for an empty array
-- looks cheaper than a generic one), up to 0.7 ms a call for the conditions.
CREATE OR REPLACE FUNCTION baton._advance(p_task_ids bigint[], p_settle_runs bigint[] DEFAULT '{}',
                                          p_run_ids bigint[] DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    finished   bigint[] := coalesce(p_task_ids, '{}');
    ready      bigint[] := '{}';
    skipped    bigint[] := '{}';
    run_ids    bigint[] := p_run_ids;
    free_ids   bigint[];
    wait_ids   bigint[];
    wait_left  integer[];
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
    IF cardinality(p_settle_runs) > 0 THEN
        SELECT coalesce(array_agg(h.task_id) FILTER (WHERE h.holds), '{}'),
               coalesce(array_agg(h.task_id) FILTER (WHERE NOT h.holds), '{}')
        INTO ready, skipped
        FROM baton._conditions_hold(ARRAY(
            SELECT c.id FROM baton.run_tasks c
            WHERE c.run_id = ANY (p_settle_runs) AND c.status = 'pending' AND c.deps_pending = 0)) h;
    END IF;

    LOOP
        IF cardinality(skipped) > 0 THEN
            WITH s AS (
                UPDATE baton.run_tasks t SET status = 'skipped', deps_pending = 0, finished_at = now()
                WHERE t.id = ANY (skipped) AND t.status = 'pending'
                RETURNING t.id, t.run_id, t.step_name, t.when_cond
            )
            INSERT INTO baton.task_events (run_id, task_id, step_name, kind, data)
            SELECT s.run_id, s.id, s.step_name, 'task_skipped',
                   jsonb_build_object('reason', 'condition ' || s.when_cond || ' not met')
            FROM s;
            finished := finished || skipped;
            skipped := '{}';
        END IF;
        EXIT WHEN cardinality(finished) = 0;

        -- The pending children of the finished tasks, each with how many of
        -- its parents it still waits for. Children are looked up per finished
        -- task through the run's index, never by scanning every task.
        SELECT coalesce(array_agg(c.id) FILTER (WHERE c.left_ = 0), '{}'),
               coalesce(array_agg(c.id) FILTER (WHERE c.left_ > 0), '{}'),
               coalesce(array_agg(c.left_) FILTER (WHERE c.left_ > 0), '{}')
        INTO free_ids, wait_ids, wait_left
        FROM (
            SELECT ch.id, ch.deps_pending - count(*)::integer AS left_
            FROM unnest(finished) AS f(id)
            CROSS JOIN LATERAL (
                SELECT d.run_id, d.step_name FROM baton.run_tasks d WHERE d.id = f.id OFFSET 0
            ) d
            CROSS JOIN LATERAL (
                SELECT c.id, c.deps_pending FROM baton.run_tasks c
                WHERE c.run_id = d.run_id AND d.step_name = ANY (c.depends_on) AND c.status = 'pending'
                OFFSET 0
            ) ch
            GROUP BY ch.id, ch.deps_pending
        ) c;

        IF cardinality(wait_ids) > 0 THEN
            UPDATE baton.run_tasks c SET deps_pending = w.left_
            FROM unnest(wait_ids, wait_left) AS w(id, left_)
            WHERE c.id = ANY (wait_ids) AND c.id = w.id;
        END IF;

        IF cardinality(free_ids) > 0 THEN
            SELECT ready || coalesce(array_agg(h.task_id) FILTER (WHERE h.holds), '{}'),
                   coalesce(array_agg(h.task_id) FILTER (WHERE NOT h.holds), '{}')
            INTO ready, skipped
            FROM baton._conditions_hold(free_ids) h;
        END IF;
        finished := '{}';
        EXIT WHEN cardinality(skipped) = 0;
    END LOOP;

    -- A paused run keeps its ready tasks pending; resume settles them.
    -- Compensations (ADR 0015) run in a run that has finished.
    IF cardinality(ready) > 0 THEN
        PERFORM baton._enqueue(array_agg(t.id))
        FROM baton.run_tasks t
        WHERE t.id = ANY (ready) AND t.status = 'pending'
          AND (t.compensates IS NOT NULL
               OR (SELECT r.status FROM baton.runs r WHERE r.id = t.run_id) IN ('queued', 'running'));
        UPDATE baton.run_tasks t SET deps_pending = 0
        WHERE t.id = ANY (ready) AND t.status = 'pending' AND t.deps_pending <> 0;
    END IF;

    -- done is materialized: the UPDATE reads its failed flag twice, which
    -- an inlined CTE would compute twice (two probes of the run's tasks).
    WITH done AS MATERIALIZED (
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
