-- Analytics (/v1/analytics): one query per figure. Every query takes the
-- same filters: a time window [from_time, to_time), and workflow, owner,
-- task_type ('' for any) and tags (empty for any; a run must carry all of
-- them). Attempt events are the ones a worker writes when an attempt ends:
-- their time is the attempt's end and duration_ms its length.

-- name: AnalyticsRunStatuses :many
SELECT r.status, count(*)::bigint AS runs
FROM baton.runs r
WHERE r.created_at >= @from_time::timestamptz AND r.created_at < @to_time::timestamptz
  AND (@workflow::text = '' OR r.workflow_name = @workflow::text)
  AND (@owner::text = '' OR r.owner = @owner::text)
  AND (cardinality(@tags::text[]) = 0 OR r.tags @> @tags::text[])
  AND (@task_type::text = '' OR EXISTS (SELECT 1 FROM baton.run_tasks t WHERE t.run_id = r.id AND t.task_type = @task_type::text))
GROUP BY r.status
ORDER BY r.status;

-- name: AnalyticsRunDurations :many
SELECT date_bin('1 day', r.finished_at, '2000-01-03')::timestamptz AS day,
       count(*)::bigint AS runs,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.finished_at - r.started_at) * 1000)::float8 AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM r.finished_at - r.started_at) * 1000)::float8 AS p95_ms
FROM baton.runs r
WHERE r.finished_at >= @from_time::timestamptz AND r.finished_at < @to_time::timestamptz
  AND r.started_at IS NOT NULL
  AND (@workflow::text = '' OR r.workflow_name = @workflow::text)
  AND (@owner::text = '' OR r.owner = @owner::text)
  AND (cardinality(@tags::text[]) = 0 OR r.tags @> @tags::text[])
  AND (@task_type::text = '' OR EXISTS (SELECT 1 FROM baton.run_tasks t WHERE t.run_id = r.id AND t.task_type = @task_type::text))
GROUP BY 1
ORDER BY 1;

-- name: AnalyticsTaskTypeOutcomes :many
SELECT t.task_type,
       count(*) FILTER (WHERE e.kind = 'task_succeeded')::bigint AS succeeded,
       count(*) FILTER (WHERE e.kind = 'task_dead')::bigint AS dead,
       count(*)::bigint AS attempts,
       count(*) FILTER (WHERE e.kind IN ('task_attempt_failed', 'task_attempt_interrupted'))::bigint AS retried
FROM baton.task_events e
LEFT JOIN LATERAL (SELECT r.workflow_name, r.owner, r.tags FROM baton.runs r
                   WHERE r.id = e.run_id AND (@workflow::text <> '' OR @owner::text <> '' OR cardinality(@tags::text[]) > 0)) r ON true
JOIN baton.run_tasks t ON t.id = e.task_id
WHERE e.time >= @from_time::timestamptz AND e.time < @to_time::timestamptz
  AND e.kind IN ('task_succeeded', 'task_dead', 'task_attempt_failed', 'task_attempt_interrupted')
  AND (@workflow::text = '' OR r.workflow_name = @workflow::text)
  AND (@owner::text = '' OR r.owner = @owner::text)
  AND (cardinality(@tags::text[]) = 0 OR r.tags @> @tags::text[])
  AND (@task_type::text = '' OR t.task_type = @task_type::text)
GROUP BY t.task_type
ORDER BY t.task_type;

-- AnalyticsTaskTypeOutcomesRollup is AnalyticsTaskTypeOutcomes served from
-- the rollups (baton.attempt_counts: whole hours and minutes from
-- task_rollup_1h/1m, raw events for the edges and past the high-water mark).
-- Rollups carry no tags: a tags filter takes AnalyticsTaskTypeOutcomes.
-- Events of a task that no longer exists have task type '' and are left out,
-- as the raw query's join leaves them out.
-- name: AnalyticsTaskTypeOutcomesRollup :many
SELECT a.task_type::text AS task_type,
       coalesce(sum(a.events) FILTER (WHERE a.kind = 'task_succeeded'), 0)::bigint AS succeeded,
       coalesce(sum(a.events) FILTER (WHERE a.kind = 'task_dead'), 0)::bigint AS dead,
       sum(a.events)::bigint AS attempts,
       coalesce(sum(a.events) FILTER (WHERE a.kind IN ('task_attempt_failed', 'task_attempt_interrupted')), 0)::bigint AS retried
FROM baton.attempt_counts(@from_time::timestamptz, @to_time::timestamptz, @mark_hint::bigint) a
WHERE a.task_type <> ''
  AND (@workflow::text = '' OR a.workflow_name = @workflow::text)
  AND (@owner::text = '' OR a.owner = @owner::text)
  AND (@task_type::text = '' OR a.task_type = @task_type::text)
GROUP BY a.task_type
ORDER BY a.task_type;

-- The error distribution takes two statements and the service between them
-- (internal/analytics/errors.go). Normalizing a message ("timeout after 31s
-- on job 4411" → "timeout after <n>s on job <n>": uuids, hex ids and numbers
-- replaced) costs PostgreSQL about a microsecond per regexp call and
-- message, too slow for every failure of a busy week; the service normalizes
-- ASCII messages itself (normalizeASCII, checked against these regexps) and
-- each distinct message once.
--
-- AnalyticsErrorGroups counts the failed, dead and interrupted attempts of
-- the window per error class and distinct raw message, with the last time
-- seen. message is the normalized message for a message with non-ASCII
-- characters (whose word characters depend on the server's locale), '' for
-- the others: uuids ('[0-9a-f]{8}-...-[0-9a-f]{12}'), then hex ids (a whole
-- word: 0x..., or 8 hex digits or more with a digit), then numbers are
-- replaced by <uuid>, <hex> and <n>.
-- name: AnalyticsErrorGroups :many
SELECT coalesce(e.error_class, CASE WHEN e.kind = 'task_attempt_interrupted' THEN 'interrupted' ELSE 'unknown' END)::text AS error_class,
       e.error::text AS error,
       count(*)::bigint AS occurrences,
       max(e.time)::timestamptz AS last_seen,
       (CASE WHEN octet_length(e.error) = length(e.error) THEN ''
             ELSE regexp_replace(
                      regexp_replace(
                          regexp_replace(e.error, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'gi'),
                          '\m(0x[0-9a-f]+|(?=[a-f]*[0-9])[0-9a-f]{8,})\M', '<hex>', 'gi'),
                      '[0-9]+', '<n>', 'g') END)::text AS message
FROM baton.task_events e
LEFT JOIN LATERAL (SELECT r.workflow_name, r.owner, r.tags FROM baton.runs r
                   WHERE r.id = e.run_id AND (@workflow::text <> '' OR @owner::text <> '' OR cardinality(@tags::text[]) > 0)) r ON true
LEFT JOIN LATERAL (SELECT t.task_type FROM baton.run_tasks t
                   WHERE t.id = e.task_id AND @task_type::text <> '') t ON true
WHERE e.time >= @from_time::timestamptz AND e.time < @to_time::timestamptz
  AND e.error IS NOT NULL
  AND e.kind IN ('task_dead', 'task_attempt_failed', 'task_attempt_interrupted')
  AND (@workflow::text = '' OR r.workflow_name = @workflow::text)
  AND (@owner::text = '' OR r.owner = @owner::text)
  AND (cardinality(@tags::text[]) = 0 OR r.tags @> @tags::text[])
  AND (@task_type::text = '' OR t.task_type = @task_type::text)
GROUP BY 1, e.error;

-- AnalyticsErrorTop orders the error classes (section 'class': class
-- totals) and the candidate message groups (section 'message': class,
-- normalized message, occurrences, last seen), both most frequent first,
-- ties by class then message (the database's collation), keeps the first
-- max_rows groups, and gives each its most recent raw messages and their
-- runs (time descending, then task id), read from the window's events of
-- the candidate raw messages (cand_*: the group's raw messages that can hold
-- them, by their last time seen) under the same filters.
-- name: AnalyticsErrorTop :many
WITH g AS (
    SELECT g0.gid, g0.error_class, g0.message, g0.occurrences, g0.last_seen
    FROM (SELECT unnest(@group_ids::integer[]) AS gid, unnest(@group_classes::text[]) AS error_class,
                 unnest(@group_messages::text[]) AS message, unnest(@group_occurrences::bigint[]) AS occurrences,
                 unnest(@group_last_seen::timestamptz[]) AS last_seen) g0
    ORDER BY g0.occurrences DESC, g0.error_class, g0.message
    LIMIT @max_rows::integer
), c AS (
    SELECT c0.gid, c0.error_class, c0.error
    FROM (SELECT unnest(@cand_ids::integer[]) AS gid, unnest(@cand_classes::text[]) AS error_class,
                 unnest(@cand_errors::text[]) AS error) c0
    WHERE c0.gid IN (SELECT g.gid FROM g)
), ex AS (
    SELECT c.gid, e.error, e.run_id,
           row_number() OVER (PARTITION BY c.gid ORDER BY e.time DESC, e.task_id) AS n
    FROM baton.task_events e
    JOIN c ON c.error = e.error
          AND c.error_class = coalesce(e.error_class, CASE WHEN e.kind = 'task_attempt_interrupted' THEN 'interrupted' ELSE 'unknown' END)
    LEFT JOIN LATERAL (SELECT r.workflow_name, r.owner, r.tags FROM baton.runs r
                       WHERE r.id = e.run_id AND (@workflow::text <> '' OR @owner::text <> '' OR cardinality(@tags::text[]) > 0)) r ON true
    LEFT JOIN LATERAL (SELECT t.task_type FROM baton.run_tasks t
                       WHERE t.id = e.task_id AND @task_type::text <> '') t ON true
    WHERE e.time >= @from_time::timestamptz AND e.time < @to_time::timestamptz
      AND e.error IS NOT NULL
      AND e.kind IN ('task_dead', 'task_attempt_failed', 'task_attempt_interrupted')
      AND (@workflow::text = '' OR r.workflow_name = @workflow::text)
      AND (@owner::text = '' OR r.owner = @owner::text)
      AND (cardinality(@tags::text[]) = 0 OR r.tags @> @tags::text[])
      AND (@task_type::text = '' OR t.task_type = @task_type::text)
)
SELECT 'message'::text AS section, g.error_class::text AS error_class, g.message::text AS message,
       g.occurrences::bigint AS occurrences, g.last_seen::timestamptz AS last_seen,
       array_agg(ex.error ORDER BY ex.n)::text[] AS examples, array_agg(ex.run_id ORDER BY ex.n)::bigint[] AS example_runs
FROM g
JOIN ex ON ex.gid = g.gid AND ex.n <= @examples::integer
GROUP BY g.gid, g.error_class, g.message, g.occurrences, g.last_seen
UNION ALL
SELECT 'class', k.error_class, '', k.occurrences, to_timestamp(0), '{}', '{}'
FROM (SELECT unnest(@class_names::text[]) AS error_class, unnest(@class_occurrences::bigint[]) AS occurrences) k
ORDER BY 1, 4 DESC, 2, 3;

-- AnalyticsCost prices attempts: cost_per_second × duration plus
-- cost_per_run per attempt (× 0.001, exact, for ms to seconds), at the task type's current prices (a task type
-- without prices costs 0), grouped three ways: by task type, workflow and
-- owner (dimension says which).
-- name: AnalyticsCost :many
SELECT CASE WHEN GROUPING(t.task_type) = 0 THEN 'task_type'
            WHEN GROUPING(r.workflow_name) = 0 THEN 'workflow'
            ELSE 'owner' END::text AS dimension,
       CASE WHEN GROUPING(t.task_type) = 0 THEN t.task_type
            WHEN GROUPING(r.workflow_name) = 0 THEN r.workflow_name
            ELSE r.owner END::text AS key,
       count(*)::bigint AS attempts,
       (sum(e.duration_ms) / 1000.0)::float8 AS seconds,
       trim_scale(sum(coalesce(tt.cost_per_second, 0) * e.duration_ms * 0.001 + coalesce(tt.cost_per_run, 0)))::text AS cost
FROM baton.task_events e
JOIN baton.run_tasks t ON t.id = e.task_id
JOIN baton.runs r ON r.id = e.run_id
LEFT JOIN baton.task_types tt ON tt.name = t.task_type
WHERE e.time >= @from_time::timestamptz AND e.time < @to_time::timestamptz
  AND e.kind IN ('task_succeeded', 'task_dead', 'task_attempt_failed', 'task_attempt_interrupted')
  AND e.duration_ms IS NOT NULL
  AND (@workflow::text = '' OR r.workflow_name = @workflow::text)
  AND (@owner::text = '' OR r.owner = @owner::text)
  AND (cardinality(@tags::text[]) = 0 OR r.tags @> @tags::text[])
  AND (@task_type::text = '' OR t.task_type = @task_type::text)
GROUP BY GROUPING SETS ((t.task_type), (r.workflow_name), (r.owner))
ORDER BY 1, 2;

-- AnalyticsCostRollup is AnalyticsCost served from the rollups: attempts
-- with a duration and their summed durations per task type, workflow and
-- owner first, then priced: cost_per_second × seconds + cost_per_run ×
-- attempts (the sum of the per-attempt costs; × 0.001 is exact where a
-- numeric division would round). Events whose run or task no longer exists
-- (workflow or task type '') are left out, as the raw query's joins leave
-- them out. No tags filter (AnalyticsCost serves it).
-- name: AnalyticsCostRollup :many
SELECT CASE WHEN GROUPING(c.task_type) = 0 THEN 'task_type'
            WHEN GROUPING(c.workflow_name) = 0 THEN 'workflow'
            ELSE 'owner' END::text AS dimension,
       CASE WHEN GROUPING(c.task_type) = 0 THEN c.task_type
            WHEN GROUPING(c.workflow_name) = 0 THEN c.workflow_name
            ELSE c.owner END::text AS key,
       sum(c.attempts)::bigint AS attempts,
       (sum(c.ms) / 1000.0)::float8 AS seconds,
       trim_scale(sum(coalesce(tt.cost_per_second, 0) * c.ms * 0.001 + coalesce(tt.cost_per_run, 0) * c.attempts))::text AS cost
FROM (
    SELECT a.task_type, a.workflow_name, a.owner, sum(a.duration_count) AS attempts, sum(a.duration_sum_ms) AS ms
    FROM baton.attempt_counts(@from_time::timestamptz, @to_time::timestamptz, @mark_hint::bigint)
             AS a (hour, workflow_name, task_type, owner, node, kind, events, duration_count, duration_sum_ms)
    WHERE a.duration_count > 0 AND a.task_type <> '' AND a.workflow_name <> ''
      AND (@workflow::text = '' OR a.workflow_name = @workflow::text)
      AND (@owner::text = '' OR a.owner = @owner::text)
      AND (@task_type::text = '' OR a.task_type = @task_type::text)
    GROUP BY 1, 2, 3
) c
LEFT JOIN baton.task_types tt ON tt.name = c.task_type
GROUP BY GROUPING SETS ((c.task_type), (c.workflow_name), (c.owner))
ORDER BY 1, 2;

-- AnalyticsNodeHours is the node × hour heatmap from attempt events: the
-- attempts that ended in the hour and their summed duration (busy seconds).
-- CPU and memory come with node metrics (the scheduling issue).
-- name: AnalyticsNodeHours :many
SELECT coalesce(e.node, '')::text AS node,
       date_bin('1 hour', e.time, '2000-01-03')::timestamptz AS hour,
       count(*)::bigint AS attempts,
       (coalesce(sum(e.duration_ms), 0) / 1000.0)::float8 AS busy_seconds
FROM baton.task_events e
LEFT JOIN LATERAL (SELECT r.workflow_name, r.owner, r.tags FROM baton.runs r
                   WHERE r.id = e.run_id AND (@workflow::text <> '' OR @owner::text <> '' OR cardinality(@tags::text[]) > 0)) r ON true
LEFT JOIN LATERAL (SELECT t.task_type FROM baton.run_tasks t
                   WHERE t.id = e.task_id AND @task_type::text <> '') t ON true
WHERE e.time >= @from_time::timestamptz AND e.time < @to_time::timestamptz
  AND e.kind IN ('task_succeeded', 'task_dead', 'task_attempt_failed', 'task_attempt_interrupted')
  AND (@workflow::text = '' OR r.workflow_name = @workflow::text)
  AND (@owner::text = '' OR r.owner = @owner::text)
  AND (cardinality(@tags::text[]) = 0 OR r.tags @> @tags::text[])
  AND (@task_type::text = '' OR t.task_type = @task_type::text)
GROUP BY 1, 2
ORDER BY 1, 2;

-- AnalyticsNodeHoursRollup is AnalyticsNodeHours served from the rollups
-- (no tags filter: AnalyticsNodeHours serves it).
-- name: AnalyticsNodeHoursRollup :many
SELECT a.node::text AS node,
       a.hour::timestamptz AS hour,
       sum(a.events)::bigint AS attempts,
       (coalesce(sum(a.duration_sum_ms), 0) / 1000.0)::float8 AS busy_seconds
FROM baton.attempt_counts(@from_time::timestamptz, @to_time::timestamptz, @mark_hint::bigint) a
WHERE (@workflow::text = '' OR a.workflow_name = @workflow::text)
  AND (@owner::text = '' OR a.owner = @owner::text)
  AND (@task_type::text = '' OR a.task_type = @task_type::text)
GROUP BY 1, 2
ORDER BY 1, 2;

-- name: AnalyticsQueues :many
SELECT s.queue::text AS queue, s.priority::integer AS priority, s.available::bigint AS available,
       s.scheduled::bigint AS scheduled, s.retryable::bigint AS retryable, s.running::bigint AS running,
       s.waited::bigint AS waited, coalesce(s.wait_avg_ms, 0)::float8 AS wait_avg_ms, coalesce(s.wait_p50_ms, 0)::float8 AS wait_p50_ms,
       coalesce(s.wait_p95_ms, 0)::float8 AS wait_p95_ms
FROM baton.queue_stats(@from_time::timestamptz, @to_time::timestamptz) AS s;

-- name: GanttRun :one
SELECT id, workflow_name, status, created_at, started_at, finished_at FROM baton.runs WHERE id = @id::bigint;

-- name: GanttTasks :many
SELECT id, step_name, step_index, task_type, status, depends_on, attempts, created_at, queued_at, started_at, finished_at,
       coalesce(compensates, '')::text AS compensates
FROM baton.run_tasks WHERE run_id = @run_id::bigint ORDER BY step_index;

-- name: GanttAttempts :many
SELECT task_id::bigint AS task_id, coalesce(attempt, 0)::integer AS attempt, kind, time, coalesce(duration_ms, 0)::bigint AS duration_ms,
       coalesce(node, '')::text AS node, coalesce(error, '')::text AS error, coalesce(error_class, '')::text AS error_class
FROM baton.task_events
WHERE run_id = @run_id::bigint AND task_id IS NOT NULL
  AND kind IN ('task_succeeded', 'task_dead', 'task_attempt_failed', 'task_attempt_interrupted')
ORDER BY task_id, attempt, time, id;

-- Exports: streamed row by row (internal/analytics runs the query text
-- sqlc generates and never collects the rows).

-- name: ExportRuns :many
SELECT r.id, r.workflow_name AS workflow, r.workflow_version, r.status, r.priority, r.trigger, r.owner, r.tags,
       r.tasks_total, r.error, r.created_at, r.started_at, r.finished_at
FROM baton.runs r
WHERE r.created_at >= @from_time::timestamptz AND r.created_at < @to_time::timestamptz
  AND (@workflow::text = '' OR r.workflow_name = @workflow::text)
  AND (@owner::text = '' OR r.owner = @owner::text)
  AND (cardinality(@tags::text[]) = 0 OR r.tags @> @tags::text[])
  AND (@status::text = '' OR r.status = @status::text)
  AND (@task_type::text = '' OR EXISTS (SELECT 1 FROM baton.run_tasks t WHERE t.run_id = r.id AND t.task_type = @task_type::text))
ORDER BY r.created_at, r.id;

-- name: ExportTasks :many
SELECT t.id, t.run_id, r.workflow_name AS workflow, t.step_name, t.task_type, t.status, t.attempts, t.priority, t.queue,
       t.error_class, t.error, t.created_at, t.queued_at, t.started_at, t.finished_at
FROM baton.runs r
JOIN baton.run_tasks t ON t.run_id = r.id
WHERE r.created_at >= @from_time::timestamptz AND r.created_at < @to_time::timestamptz
  AND (@workflow::text = '' OR r.workflow_name = @workflow::text)
  AND (@owner::text = '' OR r.owner = @owner::text)
  AND (cardinality(@tags::text[]) = 0 OR r.tags @> @tags::text[])
  AND (@task_type::text = '' OR t.task_type = @task_type::text)
ORDER BY r.created_at, r.id, t.step_index;

-- name: ExportEvents :many
SELECT e.id, e.time, e.run_id, e.task_id, e.step_name, e.kind, e.attempt, e.duration_ms, e.error, e.error_class,
       e.node, e.queue, e.priority, e.actor, e.data
FROM baton.task_events e
WHERE e.time >= @from_time::timestamptz AND e.time < @to_time::timestamptz
  AND (@run_id::bigint = 0 OR e.run_id = @run_id::bigint)
  AND (@kind::text = '' OR e.kind = @kind::text)
ORDER BY e.id;
