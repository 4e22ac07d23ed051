-- name: MetricsQueueDepth :many
SELECT queue::text AS queue, priority::smallint AS priority, state::text AS state, jobs::bigint AS jobs
FROM baton.metrics_queue_depth();

-- name: MetricsBreakerStates :many
SELECT key, state, forced FROM baton.circuit_breakers ORDER BY key LIMIT 1000;

-- name: MetricsDeadLetterCount :one
SELECT count(*)::bigint AS entries FROM baton.dead_letters;
