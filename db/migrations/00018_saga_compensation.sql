-- Saga compensation (issue 12, part 2; ADR 0015): a workflow step may
-- declare a compensate task that undoes it. When a batch with
-- on_member_failure 'rollback' rolls back, every member run gets a
-- "compensate:<step>" task for each of its succeeded steps that declares
-- one, ordered in reverse dependency order (baton._compensate).
--
-- - workflow_steps.compensate: the stored compensate task, a JSON object
--   {"type", "params", "max_retries", "timeout_ms", "priority", "backoff",
--   "after"}; after names the steps with a compensate task downstream of
--   this one (computed at apply time), whose compensations come first.
-- - run_tasks.compensates: on a compensation task, the step it undoes
--   (NULL for every other task).
-- - runs.compensation: NULL, or where the run's compensation is: running,
--   compensated (every compensation succeeded) or failed (one is dead or
--   skipped; an operator can retry it). The run's status stays what it
--   was (a rolled-back member is cancelled or failed).

-- +goose Up
ALTER TABLE baton.workflow_steps ADD COLUMN compensate jsonb
    CHECK (compensate IS NULL OR jsonb_typeof(compensate) = 'object');
ALTER TABLE baton.run_tasks ADD COLUMN compensates text;
ALTER TABLE baton.runs ADD COLUMN compensation text
    CHECK (compensation IN ('running', 'compensated', 'failed'));
-- The few runs being compensated, for baton.reconcile_tasks.
CREATE INDEX runs_compensating_idx ON baton.runs (id) WHERE compensation = 'running';

-- +goose Down
DROP INDEX IF EXISTS baton.runs_compensating_idx;
ALTER TABLE baton.runs DROP COLUMN IF EXISTS compensation;
ALTER TABLE baton.run_tasks DROP COLUMN IF EXISTS compensates;
ALTER TABLE baton.workflow_steps DROP COLUMN IF EXISTS compensate;
