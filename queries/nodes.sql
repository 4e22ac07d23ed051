-- name: NodeRegister :exec
INSERT INTO baton.nodes (name, cpu_millis, memory_mb, disk_mb, slots, started_at, heartbeat_at)
VALUES (@name, @cpu_millis, @memory_mb, @disk_mb, @slots, now(), now())
ON CONFLICT (name) DO UPDATE SET
    cpu_millis = EXCLUDED.cpu_millis,
    memory_mb = EXCLUDED.memory_mb,
    disk_mb = EXCLUDED.disk_mb,
    slots = EXCLUDED.slots,
    reserved_cpu_millis = 0,
    reserved_memory_mb = 0,
    reserved_disk_mb = 0,
    running = 0,
    started_at = now(),
    heartbeat_at = now();

-- name: NodeHeartbeat :exec
WITH n AS (
    UPDATE baton.nodes
    SET reserved_cpu_millis = @reserved_cpu_millis, reserved_memory_mb = @reserved_memory_mb,
        reserved_disk_mb = @reserved_disk_mb, running = @running, heartbeat_at = now()
    WHERE name = @name
    RETURNING name
)
INSERT INTO baton.node_metrics (node, reserved_cpu_millis, reserved_memory_mb, reserved_disk_mb, running,
                                cpu_millis_used, rss_mb)
SELECT n.name, @reserved_cpu_millis, @reserved_memory_mb, @reserved_disk_mb, @running,
       @cpu_millis_used, @rss_mb
FROM n;

-- name: NodeList :many
SELECT n.*, (n.heartbeat_at >= now() - make_interval(secs => @timeout_seconds::double precision))::boolean AS alive
FROM baton.nodes n
ORDER BY n.name
LIMIT @max_rows;

-- name: NodeListLive :many
SELECT n.* FROM baton.nodes n
WHERE n.heartbeat_at >= now() - make_interval(secs => @timeout_seconds::double precision)
ORDER BY n.cpu_millis DESC, n.memory_mb DESC, n.disk_mb DESC, n.name;

-- name: NodeMetricsMaintainPartitions :one
SELECT baton.maintain_node_metric_partitions(@days_ahead::integer, @retention::interval)::integer AS changed;
