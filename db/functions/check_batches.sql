-- check_batches looks at every running batch (skipping those another
-- session holds) and ends those whose members have all finished: succeeded
-- when every member succeeded, failed otherwise. A batch with
-- on_member_failure 'rollback' ends as failed as soon as one member failed
-- and cancels its unfinished members (running attempts are interrupted),
-- then starts the compensations of every member's succeeded steps
-- (baton._compensate: saga semantics, in reverse dependency order).
-- It returns how many batches ended. The River job baton_batch_check runs
-- it every second; nothing on the task path writes batch state.
CREATE OR REPLACE FUNCTION baton.check_batches(max_batches integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    b        record;
    n_open   bigint;
    n_failed bigint;
    n_ok     bigint;
    ended    integer := 0;
    rid      bigint;
BEGIN
    FOR b IN SELECT * FROM baton.batches WHERE status = 'running' ORDER BY id LIMIT max_batches
             FOR UPDATE SKIP LOCKED LOOP
        SELECT count(*) FILTER (WHERE r.status IN ('queued', 'running', 'paused')),
               count(*) FILTER (WHERE r.status IN ('failed', 'cancelled')),
               count(*) FILTER (WHERE r.status = 'succeeded')
        INTO n_open, n_failed, n_ok
        FROM baton.batch_members m JOIN baton.runs r ON r.id = m.run_id
        WHERE m.batch_id = b.id;
        IF b.on_member_failure = 'rollback' AND n_failed > 0 THEN
            -- Every member in id order first (the lock order of every
            -- state change), then cancel and compensate.
            PERFORM baton._lock_runs(array_agg(m.run_id)) FROM baton.batch_members m WHERE m.batch_id = b.id;
            FOR rid IN SELECT r.id FROM baton.batch_members m JOIN baton.runs r ON r.id = m.run_id
                       WHERE m.batch_id = b.id AND r.status IN ('queued', 'running', 'paused') ORDER BY r.id LOOP
                PERFORM baton.cancel_run(rid, 'batch ' || b.id);
            END LOOP;
            -- Saga: every member, whatever its end, undoes its succeeded
            -- steps that declare a compensate task (ADR 0015).
            PERFORM baton._compensate(m.run_id, 'batch ' || b.id)
            FROM baton.batch_members m WHERE m.batch_id = b.id ORDER BY m.run_id;
            PERFORM baton._finish_batch(b.id, 'failed', 'batch ' || b.id);
            ended := ended + 1;
        ELSIF n_open = 0 THEN
            PERFORM baton._finish_batch(b.id, CASE WHEN n_failed = 0 THEN 'succeeded' ELSE 'failed' END, NULL);
            ended := ended + 1;
        END IF;
    END LOOP;
    RETURN ended;
END
$$;
