-- Covering indexes for reading the rollups by time range (analytics: task
-- types, cost and heatmap through baton.attempt_counts). With them a window
-- is an index-only scan of its buckets: index entries are about a third of a
-- rollup row (no histogram), and a rollup table's rows are not in time order
-- after updates. Index-only scans need the visibility map, which autovacuum
-- keeps (buckets of past hours no longer change). They cost the rollup job,
-- not the task path.

-- +goose Up
CREATE INDEX task_rollup_1h_read_idx ON baton.task_rollup_1h (bucket)
    INCLUDE (kind, workflow_name, task_type, owner, node, events, duration_count, duration_sum_ms);
CREATE INDEX task_rollup_1m_read_idx ON baton.task_rollup_1m (bucket)
    INCLUDE (kind, workflow_name, task_type, owner, node, events, duration_count, duration_sum_ms);

-- +goose Down
DROP INDEX IF EXISTS baton.task_rollup_1m_read_idx;
DROP INDEX IF EXISTS baton.task_rollup_1h_read_idx;
