-- check_slas is the periodic SLA check (a River job calls it every 5 s). It
-- reads at most p_limit open runs (sla_state 'open', nearest deadline first,
-- through runs_sla_open_idx) and, for each:
--
--   * a finished run is closed: 'violated' with an sla_violated event when it
--     succeeded or failed after its deadline, 'closed' when it was cancelled
--     before its deadline, 'met' otherwise;
--   * an unfinished run past its deadline is closed as 'violated' with an
--     sla_violated event (a run is closed once, so it gets exactly one);
--   * an unfinished run within its deadline is projected: each unfinished
--     task still needs, from the same step's succeeded tasks in the
--     workflow's last p_history finished runs, the median queue wait
--     (queued_at to started_at) less what it has already waited, plus the
--     median execution (started_at to finished_at) less what it has already
--     run (baton._sla_remaining). The run finishes when the longest chain of
--     unfinished tasks does: its projected finish is now plus the longest
--     path through the remaining steps' times along depends_on, so steps
--     that run in parallel are not added up. A step without history counts
--     0. A run projected to finish
--     after its deadline is escalated one priority level (4 → 3 → 2 → 1,
--     never above 1) with its unfinished tasks and their waiting River jobs
--     (baton._reprioritize), and gets an sla_at_risk event holding the
--     projected finish and the deadline. Each check escalates a run by at
--     most one level; a run already at priority 1 gets one sla_at_risk event
--     (escalated false) the first time it is at risk.
--
-- Only the runs acted on are locked (FOR UPDATE SKIP LOCKED: a run the task
-- path holds is left for the next check), so the check never waits on the
-- task path. Medians are computed once per workflow per call.
CREATE OR REPLACE FUNCTION baton.check_slas(p_history integer DEFAULT 20, p_limit integer DEFAULT 1000,
                                            OUT at_risk integer, OUT violated integer, OUT settled integer)
LANGUAGE plpgsql AS $$
DECLARE
    r          record;
    locked     baton.runs;
    meds       jsonb := '{}';
    wf_meds    jsonb;
    remain_ms  bigint;
    projected  timestamptz;
    new_prio   smallint;
    n          integer;
BEGIN
    at_risk := 0;
    violated := 0;
    settled := 0;
    p_history := least(greatest(coalesce(p_history, 20), 1), 200);
    p_limit := least(greatest(coalesce(p_limit, 1000), 1), 10000);

    FOR r IN
        SELECT ru.id, ru.workflow_name, ru.status, ru.sla_deadline, ru.finished_at
        FROM baton.runs ru
        WHERE ru.sla_state = 'open'
        ORDER BY ru.sla_deadline
        LIMIT p_limit
    LOOP
        IF r.status IN ('succeeded', 'failed', 'cancelled') OR now() > r.sla_deadline THEN
            SELECT * INTO locked FROM baton.runs WHERE runs.id = r.id AND sla_state = 'open' FOR UPDATE SKIP LOCKED;
            CONTINUE WHEN NOT FOUND;
            IF locked.status = 'cancelled' AND locked.finished_at <= locked.sla_deadline THEN
                UPDATE baton.runs SET sla_state = 'closed' WHERE runs.id = locked.id;
                settled := settled + 1;
            ELSIF locked.status IN ('succeeded', 'failed', 'cancelled') AND locked.finished_at <= locked.sla_deadline THEN
                UPDATE baton.runs SET sla_state = 'met' WHERE runs.id = locked.id;
                settled := settled + 1;
            ELSIF locked.status NOT IN ('succeeded', 'failed', 'cancelled') AND now() <= locked.sla_deadline THEN
                CONTINUE; -- raced: not past its deadline after all
            ELSE
                UPDATE baton.runs SET sla_state = 'violated' WHERE runs.id = locked.id;
                INSERT INTO baton.task_events (run_id, kind, priority, data)
                VALUES (locked.id, 'sla_violated', locked.priority,
                        jsonb_build_object('deadline', locked.sla_deadline, 'finished_at', locked.finished_at,
                                           'status', locked.status,
                                           'late_ms', (extract(epoch FROM coalesce(locked.finished_at, now()) - locked.sla_deadline) * 1000)::bigint));
                PERFORM baton._notify(locked.id, 'sla_violated');
                violated := violated + 1;
            END IF;
            CONTINUE;
        END IF;

        IF NOT meds ? r.workflow_name THEN
            SELECT coalesce(jsonb_object_agg(m.step_name, jsonb_build_object('run', m.ms, 'wait', m.wait_ms)), '{}') INTO wf_meds
            FROM (
                SELECT ht.step_name,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM ht.finished_at - ht.started_at) * 1000) AS ms,
                       coalesce(percentile_cont(0.5) WITHIN GROUP (
                           ORDER BY extract(epoch FROM ht.started_at - ht.queued_at) * 1000)
                           FILTER (WHERE ht.queued_at IS NOT NULL AND ht.started_at >= ht.queued_at), 0) AS wait_ms
                FROM baton.run_tasks ht
                WHERE ht.run_id IN (SELECT h.id FROM baton.runs h
                                    WHERE h.workflow_name = r.workflow_name AND h.status IN ('succeeded', 'failed')
                                    ORDER BY h.id DESC LIMIT p_history)
                  AND ht.status = 'succeeded' AND ht.started_at IS NOT NULL AND ht.finished_at IS NOT NULL
                GROUP BY ht.step_name
            ) m;
            meds := meds || jsonb_build_object(r.workflow_name, wf_meds);
        END IF;
        wf_meds := meds -> r.workflow_name;

        remain_ms := baton._sla_remaining(r.id, wf_meds);
        projected := now() + remain_ms * interval '1 millisecond';
        CONTINUE WHEN projected <= r.sla_deadline;

        SELECT * INTO locked FROM baton.runs
        WHERE runs.id = r.id AND sla_state = 'open' AND status IN ('queued', 'running', 'paused')
        FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        new_prio := greatest(locked.priority - 1, 1);
        IF new_prio = locked.priority AND locked.sla_at_risk_at IS NOT NULL THEN
            CONTINUE; -- already at the top and already reported
        END IF;
        n := 0;
        IF new_prio < locked.priority THEN
            n := baton._reprioritize(locked.id, NULL, new_prio);
        END IF;
        UPDATE baton.runs SET priority = new_prio, sla_at_risk_at = now(), updated_at = now() WHERE runs.id = locked.id;
        INSERT INTO baton.task_events (run_id, kind, priority, data)
        VALUES (locked.id, 'sla_at_risk', new_prio,
                jsonb_build_object('projected_finish', projected, 'deadline', locked.sla_deadline,
                                   'remaining_ms', remain_ms, 'from', locked.priority, 'to', new_prio,
                                   'escalated', new_prio < locked.priority, 'jobs_updated', n));
        PERFORM baton._notify(locked.id, 'sla_at_risk');
        at_risk := at_risk + 1;
    END LOOP;
END
$$;
