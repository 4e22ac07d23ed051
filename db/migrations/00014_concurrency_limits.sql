-- Concurrency limits (issue 8, point 3): at most N running tasks per task
-- type, per workflow, or per key templated from the run's input, enforced
-- across every worker node.
--
-- A task type's limit is task_types.concurrency_limit. A workflow's rules
-- (its own and its steps') are stored per step at apply time in
-- workflow_steps.concurrency, a JSON array of {"key", "limit", "template"};
-- baton._start_run appends the task type's rule and copies the result to
-- run_tasks.concurrency, which travels in the task's River job args. Tasks
-- without rules carry nothing and the worker checks nothing for them.
--
-- A worker takes a lease per rule before running the task
-- (baton.concurrency_acquire) and drops them once the outcome is recorded
-- (baton.concurrency_release). A lease expires after the task's timeout plus
-- a grace period, so a worker that dies cannot hold a slot for ever. A task
-- refused a lease is snoozed without using an attempt.

-- +goose Up
ALTER TABLE baton.task_types ADD COLUMN concurrency_limit integer
    CHECK (concurrency_limit IS NULL OR concurrency_limit BETWEEN 1 AND 100000);
ALTER TABLE baton.workflow_steps ADD COLUMN concurrency jsonb
    CHECK (concurrency IS NULL OR jsonb_typeof(concurrency) = 'array');
ALTER TABLE baton.run_tasks ADD COLUMN concurrency jsonb;

CREATE TABLE baton.concurrency_leases (
    key         text NOT NULL CHECK (length(key) BETWEEN 1 AND 1000),
    task_id     bigint NOT NULL,
    node        text NOT NULL,
    acquired_at timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (key, task_id)
);
CREATE INDEX concurrency_leases_task_idx ON baton.concurrency_leases (task_id);

COMMENT ON TABLE baton.concurrency_leases IS
    'One row per concurrency rule a running task holds; expired rows count for nothing.';

-- +goose Down
DROP TABLE baton.concurrency_leases;
ALTER TABLE baton.run_tasks DROP COLUMN concurrency;
ALTER TABLE baton.workflow_steps DROP COLUMN concurrency;
ALTER TABLE baton.task_types DROP COLUMN concurrency_limit;
