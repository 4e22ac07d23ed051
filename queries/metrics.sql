-- name: MetricsQueueDepth :many
SELECT queue::text AS queue, priority::smallint AS priority, state::text AS state, jobs::bigint AS jobs
FROM baton.metrics_queue_depth();

-- name: MetricsBreakerStates :many
SELECT key, state, forced FROM baton.circuit_breakers ORDER BY key LIMIT 1000;

-- name: MetricsDeadLetterCount :one
SELECT coalesce(sum(n), 0)::bigint AS entries FROM baton.dead_letter_counts;
