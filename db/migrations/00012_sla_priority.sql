-- SLAs and priority overrides (issue 8, point 3).
--
-- A workflow version may carry an SLA (sla_ms, from its spec's `sla`); each
-- run of it gets sla_deadline = created_at + sla and sla_state 'open' when it
-- starts (baton._start_run). The periodic SLA check (baton.check_slas, run
-- every 5 s by a River job) reads the open runs through runs_sla_open_idx,
-- escalates the priority of those projected to miss their deadline
-- (event sla_at_risk), and closes each one exactly once: 'met', 'violated'
-- (event sla_violated) or 'closed' (cancelled before its deadline).
--
-- The partial index's predicate is on sla_state, not on status, so that it
-- also finds runs that finished after their deadline (the task path, which
-- finishes runs, writes nothing SLA-related) and so that the task path's
-- status updates stay HOT: neither sla_state nor sla_deadline changes there.

-- +goose Up
ALTER TABLE baton.workflows ADD COLUMN sla_ms bigint CHECK (sla_ms > 0);

ALTER TABLE baton.runs
    ADD COLUMN sla_deadline   timestamptz,
    ADD COLUMN sla_state      text CHECK (sla_state IN ('open', 'met', 'violated', 'closed')),
    ADD COLUMN sla_at_risk_at timestamptz,
    ADD CONSTRAINT runs_sla_state_deadline CHECK ((sla_state IS NULL) = (sla_deadline IS NULL));

CREATE INDEX runs_sla_open_idx ON baton.runs (sla_deadline) WHERE sla_state = 'open';

-- +goose Down
DROP FUNCTION IF EXISTS baton.check_slas(integer, integer);
DROP FUNCTION IF EXISTS baton.set_run_priority(bigint, integer, text);
DROP FUNCTION IF EXISTS baton.set_task_priority(bigint, integer, text);
DROP FUNCTION IF EXISTS baton._reprioritize(bigint, bigint, smallint);
DROP INDEX IF EXISTS baton.runs_sla_open_idx;
ALTER TABLE baton.runs
    DROP CONSTRAINT IF EXISTS runs_sla_state_deadline,
    DROP COLUMN IF EXISTS sla_at_risk_at,
    DROP COLUMN IF EXISTS sla_state,
    DROP COLUMN IF EXISTS sla_deadline;
ALTER TABLE baton.workflows DROP COLUMN IF EXISTS sla_ms;
