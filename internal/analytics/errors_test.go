package analytics_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/analytics"
	"github.com/baton-run/baton/internal/testdb"
)

// referenceFilter is the parameters of the reference queries.
const referenceFilter = `
    LEFT JOIN LATERAL (SELECT r.workflow_name, r.owner, r.tags FROM baton.runs r
                       WHERE r.id = e.run_id AND ($3 <> '' OR $4 <> '' OR cardinality($5::text[]) > 0)) r ON true
    LEFT JOIN LATERAL (SELECT t.task_type FROM baton.run_tasks t
                       WHERE t.id = e.task_id AND $6 <> '') t ON true
    WHERE e.time >= $1 AND e.time < $2
      AND e.error IS NOT NULL
      AND e.kind IN ('task_dead', 'task_attempt_failed', 'task_attempt_interrupted')
      AND ($3 = '' OR r.workflow_name = $3)
      AND ($4 = '' OR r.owner = $4)
      AND (cardinality($5::text[]) = 0 OR r.tags @> $5::text[])
      AND ($6 = '' OR t.task_type = $6)`

// referenceClasses and referenceMessages are the error distribution's
// definition as one SQL statement each (normalization by regexps), as the
// figures were computed before the service normalized messages itself.
const referenceClasses = `
SELECT coalesce(e.error_class, CASE WHEN e.kind = 'task_attempt_interrupted' THEN 'interrupted' ELSE 'unknown' END) AS error_class,
       count(*) AS occurrences
FROM baton.task_events e` + referenceFilter + `
GROUP BY 1
ORDER BY occurrences DESC, 1`

const referenceMessages = `
WITH errs AS (
    SELECT coalesce(e.error_class, CASE WHEN e.kind = 'task_attempt_interrupted' THEN 'interrupted' ELSE 'unknown' END) AS error_class,
           regexp_replace(
               regexp_replace(
                   regexp_replace(e.error, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'gi'),
                   '\m(0x[0-9a-f]+|(?=[a-f]*[0-9])[0-9a-f]{8,})\M', '<hex>', 'gi'),
               '[0-9]+', '<n>', 'g') AS message,
           e.error, e.time, e.run_id, e.task_id
    FROM baton.task_events e` + referenceFilter + `
)
SELECT error_class, message, count(*) AS occurrences, max(time) AS last_seen,
       (array_agg(error ORDER BY time DESC, task_id))[1:3] AS examples,
       (array_agg(run_id ORDER BY time DESC, task_id))[1:3] AS example_runs
FROM errs
GROUP BY error_class, message
ORDER BY occurrences DESC, error_class, message
LIMIT $7`

func referenceErrors(t *testing.T, pool *pgxpool.Pool, f analytics.Filter, limit int) *analytics.ErrorDistribution {
	t.Helper()
	ctx := context.Background()
	if f.Tags == nil {
		f.Tags = []string{}
	}
	args := []any{f.From, f.To, f.Workflow, f.Owner, f.Tags, f.TaskType}
	out := &analytics.ErrorDistribution{Window: analytics.Window{From: f.From, To: f.To},
		Classes: []analytics.ErrorClassCount{}, Messages: []analytics.ErrorMessage{}}
	rows, err := pool.Query(ctx, referenceClasses, args...)
	require.NoError(t, err)
	for rows.Next() {
		var c analytics.ErrorClassCount
		require.NoError(t, rows.Scan(&c.ErrorClass, &c.Occurrences))
		out.Classes = append(out.Classes, c)
	}
	require.NoError(t, rows.Err())
	rows, err = pool.Query(ctx, referenceMessages, append(args, limit)...)
	require.NoError(t, err)
	for rows.Next() {
		var m analytics.ErrorMessage
		require.NoError(t, rows.Scan(&m.ErrorClass, &m.Message, &m.Occurrences, &m.LastSeen, &m.Examples, &m.ExampleRuns))
		m.LastSeen = m.LastSeen.UTC()
		out.Messages = append(out.Messages, m)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestErrorsMatchReference checks the error distribution (normalized per
// distinct message, in Go for ASCII messages, examples from the candidate
// raw messages) against its single-statement SQL definition on failures
// with repeated raw messages, equal times, ties in frequency at the limit,
// non-ASCII messages, messages without a class, and every filter.
func TestErrorsMatchReference(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	s := seed(t, pool)
	svc := analytics.New(pool, analytics.Options{Now: func() time.Time { return t0.Add(48 * time.Hour) }})

	// 600 more failures spread over the seed's runs and tasks: the same raw
	// message many times, times that repeat (ties broken by task id), and
	// messages that normalize together.
	var tasks []int64
	for _, id := range s.tasks {
		tasks = append(tasks, id)
	}
	_, err := pool.Exec(ctx, `
		INSERT INTO baton.task_events (time, run_id, task_id, step_name, kind, attempt, duration_ms, error, error_class, node)
		SELECT $1::timestamptz + ((g / 3) * interval '7 seconds'), t.run_id, t.id, t.step_name,
		       (ARRAY['task_attempt_failed', 'task_dead', 'task_attempt_interrupted'])[1 + g % 3], 1, 10,
		       (ARRAY['timeout after ' || g % 11 || 's on job ' || g,
		              'same message every time',
		              'connection reset by 10.0.' || g % 4 || '.1',
		              'délai dépassé après ' || g % 5 || ' s (requête ' || g || ')',
		              'object 0x' || to_hex(g) || ' freed twice',
		              'lost lease ' || md5(g::text)::uuid || ' at offset ' || g % 13,
		              'Commit DEADBEEF' || g % 2 || ' rejected',
		              'same message every time'])[1 + g % 8],
		       CASE WHEN g % 3 = 2 THEN NULL WHEN g % 5 = 0 THEN 'permanent' ELSE 'transient' END,
		       'n1'
		FROM generate_series(1, 600) g
		JOIN baton.run_tasks t ON t.id = ($2::bigint[])[1 + g % cardinality($2::bigint[])]`, t0, tasks)
	require.NoError(t, err)

	filters := []analytics.Filter{{}, {Owner: "alice"}, {Workflow: "etl"}, {TaskType: "http"}, {Tags: []string{"prod"}},
		{Workflow: "report", Owner: "carol"}}
	windows := [][2]time.Duration{{0, 48 * time.Hour}, {10 * time.Minute, 20 * time.Minute}, {0, 7 * time.Second}}
	for _, w := range windows {
		for _, base := range filters {
			for _, limit := range []int{1, 2, 3, 5, 8, 20, 100} {
				f := base
				f.From, f.To = at(w[0]), at(w[1])
				want := referenceErrors(t, pool, f, limit)
				got, err := svc.Errors(ctx, f, limit)
				require.NoError(t, err)
				require.Equal(t, want, got, "window %v filter %+v limit %d", w, base, limit)
			}
		}
	}
	got, err := svc.Errors(ctx, window(), 100)
	require.NoError(t, err)
	messages := make([]string, len(got.Messages))
	for i, m := range got.Messages {
		messages[i] = m.Message
	}
	joined := strings.Join(messages, "\n")
	require.Contains(t, joined, "délai dépassé après <n> s (requête <n>)")
	require.Contains(t, joined, "object <hex> freed twice")
	require.Contains(t, joined, "lost lease <uuid> at offset <n>")
}
