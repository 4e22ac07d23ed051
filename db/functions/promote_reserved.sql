-- promote_reserved moves priority-1 task jobs that have waited at least
-- p_min_wait_ms in queue p_queue (no general worker of any node was free to
-- take them: River fetches by priority, so they were next in line) to the
-- reserved-capacity queue p_reserved_queue, whose workers only such jobs
-- reach, and wakes that queue's producers. At most p_max jobs move per call,
-- oldest first; jobs another node is moving are skipped. Nothing moves
-- while p_queue is paused. Returns how many jobs moved.
CREATE OR REPLACE FUNCTION baton.promote_reserved(p_queue text, p_reserved_queue text, p_min_wait_ms bigint,
                                                  p_max integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    moved integer;
BEGIN
    IF EXISTS (SELECT 1 FROM public.river_queue q WHERE q.name = p_queue AND q.paused_at IS NOT NULL) THEN
        RETURN 0;
    END IF;
    UPDATE public.river_job j
    SET queue = p_reserved_queue
    WHERE j.id IN (
        SELECT w.id FROM public.river_job w
        WHERE w.state = 'available' AND w.queue = p_queue AND w.priority = 1 AND w.kind = 'baton_task'
          AND w.scheduled_at <= now() - p_min_wait_ms * interval '1 millisecond'
        ORDER BY w.priority, w.scheduled_at, w.id
        LIMIT p_max
        FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS moved = ROW_COUNT;
    IF moved > 0 THEN
        PERFORM pg_notify('public.river_insert', json_build_object('queue', p_reserved_queue)::text);
    END IF;
    RETURN moved;
END
$$;
