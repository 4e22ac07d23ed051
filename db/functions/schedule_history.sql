-- schedule_history lists a schedule's most recent fires, newest first, with
-- their run's status and the lateness of the start (actual start minus the
-- nominal fire time).
CREATE OR REPLACE FUNCTION baton.schedule_history(name text, max_rows integer DEFAULT 50)
RETURNS TABLE (fire_time timestamptz, due_at timestamptz, status text, kind text, started_at timestamptz,
               lateness_ms bigint, run_id bigint, run_status text)
LANGUAGE sql STABLE AS $$
    SELECT f.fire_time, f.due_at, f.status, f.kind, f.started_at,
           (extract(epoch FROM f.started_at - f.fire_time) * 1000)::bigint,
           f.run_id, r.status
    FROM baton.schedule_fires f
    LEFT JOIN baton.runs r ON r.id = f.run_id
    WHERE f.schedule = schedule_history.name
    ORDER BY f.fire_time DESC
    LIMIT least(greatest(max_rows, 1), 1000);
$$;
