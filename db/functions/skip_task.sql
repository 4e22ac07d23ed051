-- skip_task marks a task skipped by hand: its dependents proceed as if it
-- had succeeded. Its River job is cancelled (a running attempt is
-- interrupted); a dead task leaves the dead-letter queue.
CREATE OR REPLACE FUNCTION baton.skip_task(task_id bigint, actor text DEFAULT current_user)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t     baton.run_tasks := baton._task_for_update(task_id);
    final boolean;
BEGIN
    IF t.status IN ('succeeded', 'skipped') THEN
        RAISE EXCEPTION 'baton: task % (step %) is already %', t.id, t.step_name, t.status USING ERRCODE = '55000';
    END IF;
    IF (SELECT r.status FROM baton.runs r WHERE r.id = t.run_id) = 'cancelled' THEN
        RAISE EXCEPTION 'baton: run % was cancelled', t.run_id USING ERRCODE = '55000';
    END IF;
    final := t.status IN ('dead', 'failed', 'cancelled');
    PERFORM baton._cancel_jobs(ARRAY[t.id]);
    UPDATE baton.run_tasks SET status = 'skipped', manual_skip = true, finished_at = now() WHERE id = t.id;
    DELETE FROM baton.dead_letters d WHERE d.task_id = t.id;
    INSERT INTO baton.task_events (run_id, task_id, step_name, kind, actor, data)
    VALUES (t.run_id, t.id, t.step_name, 'task_skipped', actor,
            jsonb_build_object('reason', 'skipped by hand', 'previous_status', t.status));
    IF final THEN
        PERFORM baton._reopen_descendants(t.run_id, t.step_name);
        PERFORM baton._advance('{}', ARRAY[t.run_id]);
    ELSE
        PERFORM baton._advance(ARRAY[t.id]);
    END IF;
    PERFORM baton._refresh_attention(t.run_id);
    PERFORM baton._notify(t.run_id, 'task_skipped', t.id);
    RETURN true;
END
$$;
