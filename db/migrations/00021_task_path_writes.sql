-- Fewer writes per task on the outcome path (issue 7, ADR 0020).
--
-- run_tasks: each task row is written three or four times in its life
-- (queued, running, finished; children also count down their parents).
-- With pages left full at insert, every one of those writes moved the row to
-- another page and added entries to both of the table's indexes. Leaving 40 %
-- of each page free keeps a task's later versions on its page (heap-only
-- tuples: no index entry, pruned in place), which cut the database time of a
-- no-op 22-task burn-down by about a fifth. Applies to pages written from now
-- on; existing pages are not rewritten.
--
-- task_events: the index on (task_id, time) was used by one query, a task's
-- attempts, which now reads the run's events through task_events_run_idx
-- (a run has tens of events); every event row paid an entry in it.
--
-- runs: a run's row is written when it starts and again, with every index,
-- when it finishes. Three of its index entries were never read: runs with
-- no idempotency key or no owner (most runs) had an entry for NULL in the
-- unique key index and the owner index, now partial; runs_finished_at_idx
-- duplicated runs_finished_id_idx (finished_at DESC, id DESC), which serves
-- the same ranges.

-- +goose Up
ALTER TABLE baton.run_tasks SET (fillfactor = 60);
DROP INDEX IF EXISTS baton.task_events_task_idx;

ALTER TABLE baton.runs DROP CONSTRAINT runs_idempotency_key_key;
CREATE UNIQUE INDEX runs_idempotency_key_idx ON baton.runs (idempotency_key) WHERE idempotency_key IS NOT NULL;
DROP INDEX baton.runs_owner_id_idx;
CREATE INDEX runs_owner_id_idx ON baton.runs (owner, id DESC) WHERE owner IS NOT NULL;
DROP INDEX baton.runs_finished_at_idx;

-- +goose Down
CREATE INDEX IF NOT EXISTS runs_finished_at_idx ON baton.runs (finished_at) WHERE finished_at IS NOT NULL;
DROP INDEX baton.runs_owner_id_idx;
CREATE INDEX runs_owner_id_idx ON baton.runs (owner, id DESC);
DROP INDEX baton.runs_idempotency_key_idx;
ALTER TABLE baton.runs ADD CONSTRAINT runs_idempotency_key_key UNIQUE (idempotency_key);
CREATE INDEX IF NOT EXISTS task_events_task_idx ON baton.task_events (task_id, time) WHERE task_id IS NOT NULL;
ALTER TABLE baton.run_tasks RESET (fillfactor);
