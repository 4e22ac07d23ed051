-- queue_stats reports, per River queue and priority, how many jobs wait now
-- (available, scheduled, retryable) or run, and how long the jobs first
-- attempted in [p_from, p_to) waited: attempted_at - scheduled_at, in
-- milliseconds (count, average, p50, p95). It reads River's job table, which
-- sqlc does not know, hence a function. Depths use River's fetch index
-- (state, queue, priority, ...); waits scan the jobs River still keeps (it
-- deletes finalized jobs after a day by default), so a window older than
-- River's retention reports no waits.
CREATE OR REPLACE FUNCTION baton.queue_stats(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (queue text, priority integer, available bigint, scheduled bigint, retryable bigint, running bigint,
               waited bigint, wait_avg_ms double precision, wait_p50_ms double precision, wait_p95_ms double precision)
LANGUAGE sql STABLE AS $$
    WITH depth AS (
        SELECT j.queue, j.priority::integer AS priority,
               count(*) FILTER (WHERE j.state = 'available') AS available,
               count(*) FILTER (WHERE j.state = 'scheduled') AS scheduled,
               count(*) FILTER (WHERE j.state = 'retryable') AS retryable,
               count(*) FILTER (WHERE j.state = 'running') AS running
        FROM public.river_job j
        WHERE j.state IN ('available', 'scheduled', 'retryable', 'running')
        GROUP BY j.queue, j.priority
    ), wait AS (
        SELECT j.queue, j.priority::integer AS priority, count(*) AS waited,
               avg(w.ms) AS wait_avg_ms,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY w.ms) AS wait_p50_ms,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY w.ms) AS wait_p95_ms
        FROM public.river_job j
        CROSS JOIN LATERAL (SELECT greatest(extract(epoch FROM j.attempted_at - j.scheduled_at) * 1000, 0)::double precision AS ms) w
        WHERE j.attempted_at >= p_from AND j.attempted_at < p_to
        GROUP BY j.queue, j.priority
    )
    SELECT coalesce(d.queue, w.queue), coalesce(d.priority, w.priority),
           coalesce(d.available, 0), coalesce(d.scheduled, 0), coalesce(d.retryable, 0), coalesce(d.running, 0),
           coalesce(w.waited, 0), w.wait_avg_ms, w.wait_p50_ms, w.wait_p95_ms
    FROM depth d FULL JOIN wait w ON w.queue = d.queue AND w.priority = d.priority
    ORDER BY 1, 2;
$$;
