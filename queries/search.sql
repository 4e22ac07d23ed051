-- name: SearchIndexerLock :one
SELECT * FROM baton.search_indexer FOR UPDATE;

-- name: SearchIndexerSave :exec
UPDATE baton.search_indexer
SET last_event_id = @last_event_id, pending_ids = @pending_ids::bigint[], pending_seen_ms = @pending_seen_ms::bigint[],
    indexed_at = now();

-- name: SearchEventRuns :many
-- The runs started or ended by the events past the mark plus the pending ids.
SELECT DISTINCT e.run_id::bigint AS run_id
FROM baton.task_events e
WHERE ((e.id > @after_id AND e.id <= @upto_id) OR e.id = ANY(@pending_ids::bigint[]))
  AND e.kind IN ('run_started', 'run_succeeded', 'run_failed', 'run_cancelled') AND e.run_id IS NOT NULL;

-- name: SearchIndexRuns :execrows
-- (Re)writes the documents of runs: workflow, owner, tags, input, error and
-- every task's output and error ('simple' configuration: identifiers and
-- codes are kept as written, lower-cased); and the cost of those finished
-- (the sum of their tasks' prices in v_cost).
INSERT INTO baton.run_search (run_id, doc, body, cost)
SELECT r.id, to_tsvector('simple', d.body), d.body,
       CASE WHEN r.finished_at IS NOT NULL THEN (SELECT sum(c.cost) FROM baton.v_cost c WHERE c.run_id = r.id) END
FROM baton.runs r
CROSS JOIN LATERAL (
    SELECT left(concat_ws(' ', r.workflow_name, r.owner, array_to_string(r.tags, ' '), r.input::text, r.error,
                          (SELECT string_agg(concat_ws(' ', t.output::text, t.error), ' ' ORDER BY t.step_index)
                           FROM baton.run_tasks t WHERE t.run_id = r.id)), 200000) AS body
) d
WHERE r.id = ANY(@ids::bigint[])
ON CONFLICT (run_id) DO UPDATE SET doc = excluded.doc, body = excluded.body, cost = excluded.cost, indexed_at = now();

-- name: RunSearchByCreated :many
-- Runs newest first (by id, the creation order) matching every filter
-- given; after_id is the keyset cursor. In these searches `r.tags <> '{}'`
-- follows from a tag filter (a list given is never empty); stated, it lets
-- the planner use runs_tagged_idx, which holds tagged runs only.
SELECT r.id, r.workflow_name, r.workflow_version, r.status, r.priority, r.owner, r.tags, r.trigger, r.trigger_ref,
       r.error, r.tasks_total, r.created_at, r.started_at, r.finished_at
FROM baton.runs r
WHERE (sqlc.narg('after_id')::bigint IS NULL OR r.id < sqlc.narg('after_id')::bigint)
  AND (sqlc.narg('workflow')::text IS NULL OR r.workflow_name = sqlc.narg('workflow')::text)
  AND (sqlc.narg('statuses')::text[] IS NULL OR r.status = ANY(sqlc.narg('statuses')::text[]))
  AND (sqlc.narg('owner')::text IS NULL OR r.owner = sqlc.narg('owner')::text)
  AND (sqlc.narg('trigger')::text IS NULL OR r.trigger = sqlc.narg('trigger')::text)
  AND (sqlc.narg('priority')::smallint IS NULL OR r.priority = sqlc.narg('priority')::smallint)
  AND (sqlc.narg('tags_all')::text[] IS NULL OR (r.tags @> sqlc.narg('tags_all')::text[] AND r.tags <> '{}'))
  AND (sqlc.narg('tags_any')::text[] IS NULL OR (r.tags && sqlc.narg('tags_any')::text[] AND r.tags <> '{}'))
  AND (sqlc.narg('created_from')::timestamptz IS NULL OR r.created_at >= sqlc.narg('created_from')::timestamptz)
  AND (sqlc.narg('created_to')::timestamptz IS NULL OR r.created_at < sqlc.narg('created_to')::timestamptz)
  AND (sqlc.narg('started_from')::timestamptz IS NULL OR r.started_at >= sqlc.narg('started_from')::timestamptz)
  AND (sqlc.narg('started_to')::timestamptz IS NULL OR r.started_at < sqlc.narg('started_to')::timestamptz)
  AND (sqlc.narg('finished_from')::timestamptz IS NULL OR r.finished_at >= sqlc.narg('finished_from')::timestamptz)
  AND (sqlc.narg('finished_to')::timestamptz IS NULL OR r.finished_at < sqlc.narg('finished_to')::timestamptz)
  AND (sqlc.narg('min_duration')::interval IS NULL OR r.finished_at - r.started_at >= sqlc.narg('min_duration')::interval)
  AND (sqlc.narg('max_duration')::interval IS NULL OR r.finished_at - r.started_at <= sqlc.narg('max_duration')::interval)
  AND (sqlc.narg('batch_id')::bigint IS NULL OR EXISTS (
        SELECT 1 FROM baton.batch_members m WHERE m.batch_id = sqlc.narg('batch_id')::bigint AND m.run_id = r.id))
  AND (sqlc.narg('step_name')::text IS NULL OR EXISTS (
        SELECT 1 FROM baton.run_tasks t WHERE t.run_id = r.id AND t.step_name = sqlc.narg('step_name')::text
          AND (sqlc.narg('step_status')::text IS NULL OR t.status = sqlc.narg('step_status')::text)))
  AND (sqlc.narg('step_name')::text IS NOT NULL OR sqlc.narg('step_status')::text IS NULL OR EXISTS (
        SELECT 1 FROM baton.run_tasks t WHERE t.run_id = r.id AND t.status = sqlc.narg('step_status')::text))
  AND (sqlc.narg('q')::text IS NULL OR EXISTS (
        SELECT 1 FROM baton.run_search s WHERE s.run_id = r.id AND s.doc @@ websearch_to_tsquery('simple', sqlc.narg('q')::text)))
  AND (sqlc.narg('min_cost')::numeric IS NULL OR EXISTS (
        SELECT 1 FROM baton.run_search s WHERE s.run_id = r.id AND s.cost >= sqlc.narg('min_cost')::numeric))
  AND (sqlc.narg('max_cost')::numeric IS NULL OR EXISTS (
        SELECT 1 FROM baton.run_search s WHERE s.run_id = r.id AND s.cost <= sqlc.narg('max_cost')::numeric))
ORDER BY r.id DESC
LIMIT @max_rows;

-- name: RunSearchByFinished :many
-- Finished runs, latest completion first; the cursor is (finished_at, id).
SELECT r.id, r.workflow_name, r.workflow_version, r.status, r.priority, r.owner, r.tags, r.trigger, r.trigger_ref,
       r.error, r.tasks_total, r.created_at, r.started_at, r.finished_at
FROM baton.runs r
WHERE r.finished_at IS NOT NULL
  AND (sqlc.narg('after_id')::bigint IS NULL
       OR (r.finished_at, r.id) < (sqlc.narg('after_finished')::timestamptz, sqlc.narg('after_id')::bigint))
  AND (sqlc.narg('workflow')::text IS NULL OR r.workflow_name = sqlc.narg('workflow')::text)
  AND (sqlc.narg('statuses')::text[] IS NULL OR r.status = ANY(sqlc.narg('statuses')::text[]))
  AND (sqlc.narg('owner')::text IS NULL OR r.owner = sqlc.narg('owner')::text)
  AND (sqlc.narg('trigger')::text IS NULL OR r.trigger = sqlc.narg('trigger')::text)
  AND (sqlc.narg('priority')::smallint IS NULL OR r.priority = sqlc.narg('priority')::smallint)
  AND (sqlc.narg('tags_all')::text[] IS NULL OR (r.tags @> sqlc.narg('tags_all')::text[] AND r.tags <> '{}'))
  AND (sqlc.narg('tags_any')::text[] IS NULL OR (r.tags && sqlc.narg('tags_any')::text[] AND r.tags <> '{}'))
  AND (sqlc.narg('created_from')::timestamptz IS NULL OR r.created_at >= sqlc.narg('created_from')::timestamptz)
  AND (sqlc.narg('created_to')::timestamptz IS NULL OR r.created_at < sqlc.narg('created_to')::timestamptz)
  AND (sqlc.narg('started_from')::timestamptz IS NULL OR r.started_at >= sqlc.narg('started_from')::timestamptz)
  AND (sqlc.narg('started_to')::timestamptz IS NULL OR r.started_at < sqlc.narg('started_to')::timestamptz)
  AND (sqlc.narg('finished_from')::timestamptz IS NULL OR r.finished_at >= sqlc.narg('finished_from')::timestamptz)
  AND (sqlc.narg('finished_to')::timestamptz IS NULL OR r.finished_at < sqlc.narg('finished_to')::timestamptz)
  AND (sqlc.narg('min_duration')::interval IS NULL OR r.finished_at - r.started_at >= sqlc.narg('min_duration')::interval)
  AND (sqlc.narg('max_duration')::interval IS NULL OR r.finished_at - r.started_at <= sqlc.narg('max_duration')::interval)
  AND (sqlc.narg('batch_id')::bigint IS NULL OR EXISTS (
        SELECT 1 FROM baton.batch_members m WHERE m.batch_id = sqlc.narg('batch_id')::bigint AND m.run_id = r.id))
  AND (sqlc.narg('step_name')::text IS NULL OR EXISTS (
        SELECT 1 FROM baton.run_tasks t WHERE t.run_id = r.id AND t.step_name = sqlc.narg('step_name')::text
          AND (sqlc.narg('step_status')::text IS NULL OR t.status = sqlc.narg('step_status')::text)))
  AND (sqlc.narg('step_name')::text IS NOT NULL OR sqlc.narg('step_status')::text IS NULL OR EXISTS (
        SELECT 1 FROM baton.run_tasks t WHERE t.run_id = r.id AND t.status = sqlc.narg('step_status')::text))
  AND (sqlc.narg('q')::text IS NULL OR EXISTS (
        SELECT 1 FROM baton.run_search s WHERE s.run_id = r.id AND s.doc @@ websearch_to_tsquery('simple', sqlc.narg('q')::text)))
  AND (sqlc.narg('min_cost')::numeric IS NULL OR EXISTS (
        SELECT 1 FROM baton.run_search s WHERE s.run_id = r.id AND s.cost >= sqlc.narg('min_cost')::numeric))
  AND (sqlc.narg('max_cost')::numeric IS NULL OR EXISTS (
        SELECT 1 FROM baton.run_search s WHERE s.run_id = r.id AND s.cost <= sqlc.narg('max_cost')::numeric))
ORDER BY r.finished_at DESC, r.id DESC
LIMIT @max_rows;

-- name: RunSearchByDuration :many
-- Finished runs, longest first; the cursor is (duration, id).
SELECT r.id, r.workflow_name, r.workflow_version, r.status, r.priority, r.owner, r.tags, r.trigger, r.trigger_ref,
       r.error, r.tasks_total, r.created_at, r.started_at, r.finished_at
FROM baton.runs r
WHERE r.finished_at IS NOT NULL
  AND (sqlc.narg('after_id')::bigint IS NULL
       OR (r.finished_at - r.started_at, r.id) < (sqlc.narg('after_duration')::interval, sqlc.narg('after_id')::bigint))
  AND (sqlc.narg('workflow')::text IS NULL OR r.workflow_name = sqlc.narg('workflow')::text)
  AND (sqlc.narg('statuses')::text[] IS NULL OR r.status = ANY(sqlc.narg('statuses')::text[]))
  AND (sqlc.narg('owner')::text IS NULL OR r.owner = sqlc.narg('owner')::text)
  AND (sqlc.narg('trigger')::text IS NULL OR r.trigger = sqlc.narg('trigger')::text)
  AND (sqlc.narg('priority')::smallint IS NULL OR r.priority = sqlc.narg('priority')::smallint)
  AND (sqlc.narg('tags_all')::text[] IS NULL OR (r.tags @> sqlc.narg('tags_all')::text[] AND r.tags <> '{}'))
  AND (sqlc.narg('tags_any')::text[] IS NULL OR (r.tags && sqlc.narg('tags_any')::text[] AND r.tags <> '{}'))
  AND (sqlc.narg('created_from')::timestamptz IS NULL OR r.created_at >= sqlc.narg('created_from')::timestamptz)
  AND (sqlc.narg('created_to')::timestamptz IS NULL OR r.created_at < sqlc.narg('created_to')::timestamptz)
  AND (sqlc.narg('started_from')::timestamptz IS NULL OR r.started_at >= sqlc.narg('started_from')::timestamptz)
  AND (sqlc.narg('started_to')::timestamptz IS NULL OR r.started_at < sqlc.narg('started_to')::timestamptz)
  AND (sqlc.narg('finished_from')::timestamptz IS NULL OR r.finished_at >= sqlc.narg('finished_from')::timestamptz)
  AND (sqlc.narg('finished_to')::timestamptz IS NULL OR r.finished_at < sqlc.narg('finished_to')::timestamptz)
  AND (sqlc.narg('min_duration')::interval IS NULL OR r.finished_at - r.started_at >= sqlc.narg('min_duration')::interval)
  AND (sqlc.narg('max_duration')::interval IS NULL OR r.finished_at - r.started_at <= sqlc.narg('max_duration')::interval)
  AND (sqlc.narg('batch_id')::bigint IS NULL OR EXISTS (
        SELECT 1 FROM baton.batch_members m WHERE m.batch_id = sqlc.narg('batch_id')::bigint AND m.run_id = r.id))
  AND (sqlc.narg('step_name')::text IS NULL OR EXISTS (
        SELECT 1 FROM baton.run_tasks t WHERE t.run_id = r.id AND t.step_name = sqlc.narg('step_name')::text
          AND (sqlc.narg('step_status')::text IS NULL OR t.status = sqlc.narg('step_status')::text)))
  AND (sqlc.narg('step_name')::text IS NOT NULL OR sqlc.narg('step_status')::text IS NULL OR EXISTS (
        SELECT 1 FROM baton.run_tasks t WHERE t.run_id = r.id AND t.status = sqlc.narg('step_status')::text))
  AND (sqlc.narg('q')::text IS NULL OR EXISTS (
        SELECT 1 FROM baton.run_search s WHERE s.run_id = r.id AND s.doc @@ websearch_to_tsquery('simple', sqlc.narg('q')::text)))
  AND (sqlc.narg('min_cost')::numeric IS NULL OR EXISTS (
        SELECT 1 FROM baton.run_search s WHERE s.run_id = r.id AND s.cost >= sqlc.narg('min_cost')::numeric))
  AND (sqlc.narg('max_cost')::numeric IS NULL OR EXISTS (
        SELECT 1 FROM baton.run_search s WHERE s.run_id = r.id AND s.cost <= sqlc.narg('max_cost')::numeric))
ORDER BY r.finished_at - r.started_at DESC, r.id DESC
LIMIT @max_rows;

-- name: RunSearchByCost :many
-- Priced finished runs, most expensive first; the cursor is (cost, id).
-- Walks run_search_cost_idx and joins each run by its key.
SELECT r.id, r.workflow_name, r.workflow_version, r.status, r.priority, r.owner, r.tags, r.trigger, r.trigger_ref,
       r.error, r.tasks_total, r.created_at, r.started_at, r.finished_at, c.cost::numeric AS cost
FROM baton.run_search c
JOIN baton.runs r ON r.id = c.run_id
WHERE c.cost IS NOT NULL
  AND (sqlc.narg('after_id')::bigint IS NULL
       OR (c.cost, c.run_id) < (sqlc.narg('after_cost')::numeric, sqlc.narg('after_id')::bigint))
  AND (sqlc.narg('workflow')::text IS NULL OR r.workflow_name = sqlc.narg('workflow')::text)
  AND (sqlc.narg('statuses')::text[] IS NULL OR r.status = ANY(sqlc.narg('statuses')::text[]))
  AND (sqlc.narg('owner')::text IS NULL OR r.owner = sqlc.narg('owner')::text)
  AND (sqlc.narg('trigger')::text IS NULL OR r.trigger = sqlc.narg('trigger')::text)
  AND (sqlc.narg('priority')::smallint IS NULL OR r.priority = sqlc.narg('priority')::smallint)
  AND (sqlc.narg('tags_all')::text[] IS NULL OR (r.tags @> sqlc.narg('tags_all')::text[] AND r.tags <> '{}'))
  AND (sqlc.narg('tags_any')::text[] IS NULL OR (r.tags && sqlc.narg('tags_any')::text[] AND r.tags <> '{}'))
  AND (sqlc.narg('created_from')::timestamptz IS NULL OR r.created_at >= sqlc.narg('created_from')::timestamptz)
  AND (sqlc.narg('created_to')::timestamptz IS NULL OR r.created_at < sqlc.narg('created_to')::timestamptz)
  AND (sqlc.narg('started_from')::timestamptz IS NULL OR r.started_at >= sqlc.narg('started_from')::timestamptz)
  AND (sqlc.narg('started_to')::timestamptz IS NULL OR r.started_at < sqlc.narg('started_to')::timestamptz)
  AND (sqlc.narg('finished_from')::timestamptz IS NULL OR r.finished_at >= sqlc.narg('finished_from')::timestamptz)
  AND (sqlc.narg('finished_to')::timestamptz IS NULL OR r.finished_at < sqlc.narg('finished_to')::timestamptz)
  AND (sqlc.narg('min_duration')::interval IS NULL OR r.finished_at - r.started_at >= sqlc.narg('min_duration')::interval)
  AND (sqlc.narg('max_duration')::interval IS NULL OR r.finished_at - r.started_at <= sqlc.narg('max_duration')::interval)
  AND (sqlc.narg('batch_id')::bigint IS NULL OR EXISTS (
        SELECT 1 FROM baton.batch_members m WHERE m.batch_id = sqlc.narg('batch_id')::bigint AND m.run_id = r.id))
  AND (sqlc.narg('step_name')::text IS NULL OR EXISTS (
        SELECT 1 FROM baton.run_tasks t WHERE t.run_id = r.id AND t.step_name = sqlc.narg('step_name')::text
          AND (sqlc.narg('step_status')::text IS NULL OR t.status = sqlc.narg('step_status')::text)))
  AND (sqlc.narg('step_name')::text IS NOT NULL OR sqlc.narg('step_status')::text IS NULL OR EXISTS (
        SELECT 1 FROM baton.run_tasks t WHERE t.run_id = r.id AND t.status = sqlc.narg('step_status')::text))
  AND (sqlc.narg('q')::text IS NULL OR EXISTS (
        SELECT 1 FROM baton.run_search s WHERE s.run_id = r.id AND s.doc @@ websearch_to_tsquery('simple', sqlc.narg('q')::text)))
  AND (sqlc.narg('min_cost')::numeric IS NULL OR c.cost >= sqlc.narg('min_cost')::numeric)
  AND (sqlc.narg('max_cost')::numeric IS NULL OR c.cost <= sqlc.narg('max_cost')::numeric)
ORDER BY c.cost DESC, c.run_id DESC
LIMIT @max_rows;

-- name: RunSearchHighlights :many
-- The matches of a full-text query in the documents of the given runs.
SELECT s.run_id, ts_headline('simple', s.body, websearch_to_tsquery('simple', @q::text),
                             'StartSel=<mark>, StopSel=</mark>, MaxFragments=3, MaxWords=20, MinWords=5')::text AS highlight
FROM baton.run_search s
WHERE s.run_id = ANY(@ids::bigint[]);

-- name: RunSearchCosts :many
-- The costs of the given runs (those priced and finished).
SELECT s.run_id, s.cost::numeric AS cost FROM baton.run_search s WHERE s.run_id = ANY(@ids::bigint[]) AND s.cost IS NOT NULL;

-- name: SavedSearchInsert :one
INSERT INTO baton.saved_searches (name, owner_key, shared, query) VALUES (@name, @owner_key, @shared, @query)
RETURNING *;

-- name: SavedSearchGet :one
SELECT * FROM baton.saved_searches WHERE id = @id AND (owner_key = @owner_key OR shared);

-- name: SavedSearchList :many
SELECT * FROM baton.saved_searches WHERE owner_key = @owner_key OR shared ORDER BY name, id;

-- name: SavedSearchDelete :execrows
DELETE FROM baton.saved_searches WHERE id = @id AND owner_key = @owner_key;

-- name: WorkflowSuccessRates :many
-- Every workflow with its runs finished since @since by outcome (zeros
-- when none finished).
SELECT w.name::text AS workflow_name, count(r.id)::bigint AS finished,
       count(r.id) FILTER (WHERE r.status = 'succeeded')::bigint AS succeeded,
       count(r.id) FILTER (WHERE r.status = 'failed')::bigint AS failed,
       count(r.id) FILTER (WHERE r.status = 'cancelled')::bigint AS cancelled
FROM (SELECT DISTINCT wf.name FROM baton.workflows wf) w
LEFT JOIN baton.runs r ON r.workflow_name = w.name AND r.finished_at >= @since
GROUP BY w.name
ORDER BY w.name;
