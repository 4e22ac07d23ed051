-- Analytics (issue 9): prices on task types for the cost breakdown, and the
-- indexes the /v1/analytics queries read. Only runs get new indexes: the
-- task path (run_tasks updates, task_events inserts) gains no index writes
-- except for the error events, whose partial index below holds the failed
-- attempts alone. task_events is partitioned: an index created on the parent
-- is created on every partition, present and future.

-- +goose Up
ALTER TABLE baton.task_types
    ADD COLUMN cost_per_second numeric CHECK (cost_per_second >= 0),
    ADD COLUMN cost_per_run    numeric CHECK (cost_per_run >= 0);

-- Completion rates: runs created in a window.
CREATE INDEX runs_created_at_idx ON baton.runs (created_at);
-- Duration trend: runs finished in a window.
CREATE INDEX runs_finished_at_idx ON baton.runs (finished_at) WHERE finished_at IS NOT NULL;
-- Error distribution: failed attempts in a window, without reading the
-- (far more numerous) successful ones.
CREATE INDEX task_events_error_time_idx ON baton.task_events (time)
    WHERE error IS NOT NULL;

-- +goose Down
DROP INDEX IF EXISTS baton.task_events_error_time_idx;
DROP INDEX IF EXISTS baton.runs_finished_at_idx;
DROP INDEX IF EXISTS baton.runs_created_at_idx;
ALTER TABLE baton.task_types DROP COLUMN IF EXISTS cost_per_run, DROP COLUMN IF EXISTS cost_per_second;
