-- metrics_queue_depth counts River jobs waiting or running, per queue,
-- priority and state (available, scheduled, retryable, pending, running):
-- the queue-depth gauge of /metrics. River's tables are not in sqlc's
-- schema, hence a function.
CREATE OR REPLACE FUNCTION baton.metrics_queue_depth()
RETURNS TABLE (queue text, priority smallint, state text, jobs bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT j.queue, j.priority, j.state::text, count(*)
    FROM public.river_job j
    WHERE j.state IN ('available', 'scheduled', 'retryable', 'pending', 'running')
    GROUP BY 1, 2, 3;
END
$$;
