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

-- +goose Up
ALTER TABLE baton.run_tasks SET (fillfactor = 60);
DROP INDEX IF EXISTS baton.task_events_task_idx;

-- +goose Down
CREATE INDEX IF NOT EXISTS task_events_task_idx ON baton.task_events (task_id, time) WHERE task_id IS NOT NULL;
ALTER TABLE baton.run_tasks RESET (fillfactor);
