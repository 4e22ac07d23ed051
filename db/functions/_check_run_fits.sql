-- _check_run_fits raises 22023 when run p_run_id has a task whose declared
-- resources no live worker node (heartbeat within the last 30 s, as
-- engine.NodeTimeout) could ever fit, naming the step, what it needs and the
-- largest live node. With no live node at all it accepts the run: nodes may
-- not have started yet, and the task waits for one.
CREATE OR REPLACE FUNCTION baton._check_run_fits(p_run_id bigint)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    bad     record;
    largest baton.nodes;
BEGIN
    SELECT * INTO largest FROM baton.nodes n
    WHERE n.heartbeat_at > now() - interval '30 seconds'
    ORDER BY n.cpu_millis DESC, n.memory_mb DESC, n.disk_mb DESC, n.name
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT t.step_name, t.resources INTO bad
    FROM baton.run_tasks t
    WHERE t.run_id = p_run_id AND t.resources IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM baton.nodes n
          WHERE n.heartbeat_at > now() - interval '30 seconds'
            AND coalesce((t.resources ->> 'cpu_millis')::bigint, 0) <= n.cpu_millis
            AND coalesce((t.resources ->> 'memory_mb')::bigint, 0) <= n.memory_mb
            AND coalesce((t.resources ->> 'disk_mb')::bigint, 0) <= n.disk_mb)
    ORDER BY t.step_index
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'baton: step "%" needs %, but no live worker node can fit it; the largest, "%", has {"cpu_millis": %, "memory_mb": %, "disk_mb": %}',
            bad.step_name, bad.resources, largest.name, largest.cpu_millis, largest.memory_mb, largest.disk_mb
            USING ERRCODE = '22023';
    END IF;
END
$$;
