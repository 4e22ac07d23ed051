-- Search (issue 12): a finished run's cost for sort=cost and cost ranges,
-- and statistics that let the planner see a rare full-text term as rare.
--
-- Cost: the search indexer writes it into run_search when it indexes a run's end,
-- as the sum of its tasks' prices in baton.v_cost (NULL when no task of the
-- run has a priced task type), off the task path: a run's hot-path rows are
-- not touched. Runs already indexed and finished are priced here once.
--
-- Statistics: with the default target (100) a term outside the ~1,000 most
-- common elements of run_search.doc is estimated to match 0.5 % of runs, so
-- a search for a rare term (an id, a customer) walked runs newest first
-- filtering every document (1.1 s at 100,000 runs, linear in their number)
-- instead of reading the GIN index (27 ms). A target of 1000 keeps ~10,000
-- elements and estimates rare terms near their real count; ANALYZE samples
-- 300,000 documents instead of 30,000.

-- +goose Up
ALTER TABLE baton.run_search ADD COLUMN cost numeric;
COMMENT ON COLUMN baton.run_search.cost IS
    'Sum of the run''s task costs (baton.v_cost) once it finished; NULL while running or when nothing is priced.';

UPDATE baton.run_search s
SET cost = c.cost
FROM (SELECT v.run_id, sum(v.cost) AS cost FROM baton.v_cost v GROUP BY v.run_id) c
JOIN baton.runs r ON r.id = c.run_id
WHERE s.run_id = c.run_id AND r.finished_at IS NOT NULL AND c.cost IS NOT NULL;

CREATE INDEX run_search_cost_idx ON baton.run_search (cost DESC, run_id DESC) WHERE cost IS NOT NULL;

ALTER TABLE baton.run_search ALTER COLUMN doc SET STATISTICS 1000;

-- +goose Down
ALTER TABLE baton.run_search ALTER COLUMN doc SET STATISTICS -1;
DROP INDEX IF EXISTS baton.run_search_cost_idx;
ALTER TABLE baton.run_search DROP COLUMN IF EXISTS cost;
