-- name: HourOfWeekBusy :many
-- Task time per hour of the week (0 = Monday 00:00 UTC) in [@from_time,
-- @to_time): the durations of the attempts recorded in each hour, from the
-- hourly rollups.
SELECT ((extract(isodow FROM r.bucket AT TIME ZONE 'UTC')::integer - 1) * 24
        + extract(hour FROM r.bucket AT TIME ZONE 'UTC')::integer)::integer AS hour_of_week,
       sum(r.duration_sum_ms)::bigint AS busy_ms
FROM baton.task_rollup_1h r
WHERE r.bucket >= @from_time AND r.bucket < @to_time
GROUP BY 1
ORDER BY 1;

-- name: WorkflowMedianDuration :one
-- The median creation-to-finish time of the workflow's last (at most 200)
-- succeeded runs created since @since.
SELECT count(*)::integer AS runs,
       coalesce(percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM r.finished_at - r.created_at) * 1000), 0)::bigint AS median_ms
FROM (SELECT x.created_at, x.finished_at FROM baton.runs x
      WHERE x.workflow_name = @workflow AND x.status = 'succeeded' AND x.created_at >= @since
        AND x.finished_at IS NOT NULL
      ORDER BY x.id DESC
      LIMIT 200) r;

-- name: LiveNodeSlots :one
SELECT count(*)::integer AS nodes, coalesce(sum(n.slots), 0)::integer AS slots
FROM baton.nodes n
WHERE n.heartbeat_at >= now() - make_interval(secs => @timeout_seconds::double precision);
