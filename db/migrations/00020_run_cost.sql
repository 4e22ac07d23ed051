-- A finished run's cost, for search (issue 12: sort by cost, cost ranges).
-- The search indexer writes it into run_search when it indexes a run's end,
-- as the sum of its tasks' prices in baton.v_cost (NULL when no task of the
-- run has a priced task type), off the task path: a run's hot-path rows are
-- not touched. Runs already indexed and finished are priced here once.

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

-- +goose Down
DROP INDEX IF EXISTS baton.run_search_cost_idx;
ALTER TABLE baton.run_search DROP COLUMN IF EXISTS cost;
