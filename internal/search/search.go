// Package search finds runs: filters on workflow, status, owner, trigger,
// priority, tags, time ranges, duration, batch and steps; full text over
// each run's document (baton.run_search, a tsvector with a GIN index,
// queried with websearch_to_tsquery and highlighted with ts_headline);
// sorts by creation, completion, duration or cost with a keyset cursor; and
// saved searches. The documents are written by an indexer that reads run start
// and end events past a high-water mark, off the task path (ADR 0011).
package search

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/baton-run/baton/internal/dbsqlc"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/eventcursor"
)

// Sorts a search can use.
const (
	SortCreated  = "created"
	SortFinished = "finished"
	SortDuration = "duration"
	SortCost     = "cost"
)

// Query is a search. The zero value lists every run, newest first.
type Query struct {
	Workflow      string
	Statuses      []string
	Owner         string
	Trigger       string
	Priority      int
	TagsAll       []string
	TagsAny       []string
	CreatedFrom   *time.Time
	CreatedTo     *time.Time
	StartedFrom   *time.Time
	StartedTo     *time.Time
	FinishedFrom  *time.Time
	FinishedTo    *time.Time
	MinDurationMs *int64
	MaxDurationMs *int64
	// MinCost and MaxCost bound a finished run's cost (the sum of its
	// tasks' prices), as decimal strings.
	MinCost    string
	MaxCost    string
	BatchID    int64
	StepName   string
	StepStatus string
	Text       string // websearch_to_tsquery syntax
	Sort       string
	Limit      int
	Cursor     string
}

// Params lists the query-string parameters ParseQuery reads.
var Params = []string{"workflow", "status", "owner", "trigger", "priority", "tags_all", "tags_any", "created_from",
	"created_to", "started_from", "started_to", "finished_from", "finished_to", "min_duration_ms", "max_duration_ms",
	"min_cost", "max_cost", "batch", "step", "step_status", "q", "sort", "limit", "cursor"}

// decimalPattern is a cost bound: up to 15 digits and 9 decimals.
var decimalPattern = regexp.MustCompile(`^[0-9]{1,15}(\.[0-9]{1,9})?$`)

var runStatuses = []string{"queued", "running", "paused", "succeeded", "failed", "cancelled"}
var taskStatuses = []string{"pending", "queued", "running", "succeeded", "failed", "skipped", "cancelled", "dead"}

// ParseQuery reads a query string (the API's GET /v2/runs parameters,
// also what saved searches keep). Lists are comma-separated; times are
// RFC 3339. Problems name the parameter.
func ParseQuery(v url.Values) (Query, error) {
	var q Query
	var problems []engine.Problem
	bad := func(field, format string, args ...any) {
		problems = append(problems, engine.Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	for k := range v {
		if !slices.Contains(Params, k) {
			bad(k, "unknown parameter (known: %s)", strings.Join(Params, ", "))
		}
	}
	text := func(name string, maxLen int) string {
		s := v.Get(name)
		if len(s) > maxLen || strings.ContainsRune(s, 0) {
			bad(name, "at most %d characters", maxLen)
			return ""
		}
		return s
	}
	list := func(name string) []string {
		s := text(name, 2000)
		if s == "" {
			return nil
		}
		parts := strings.Split(s, ",")
		if len(parts) > 50 {
			bad(name, "at most 50 values")
		}
		return parts
	}
	stamp := func(name string) *time.Time {
		s := v.Get(name)
		if s == "" {
			return nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err == nil && (t.UTC().Year() < 1 || t.UTC().Year() > 9999) {
			err = errors.New("out of range")
		}
		if err != nil {
			bad(name, "must be an RFC 3339 time, such as 2026-12-01T10:00:00Z")
			return nil
		}
		return &t
	}
	number := func(name string, lo, hi int64) *int64 {
		s := v.Get(name)
		if s == "" {
			return nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < lo || n > hi {
			bad(name, "must be an integer from %d to %d", lo, hi)
			return nil
		}
		return &n
	}
	decimal := func(name string) string {
		s := v.Get(name)
		if s != "" && !decimalPattern.MatchString(s) {
			bad(name, "must be a non-negative decimal number such as 12.5")
			return ""
		}
		return s
	}
	q.Workflow = text("workflow", 200)
	q.Statuses = list("status")
	for _, s := range q.Statuses {
		if !slices.Contains(runStatuses, s) {
			bad("status", "unknown status %q (one of %s)", s, strings.Join(runStatuses, ", "))
		}
	}
	q.Owner = text("owner", 200)
	q.Trigger = text("trigger", 20)
	if p := number("priority", 1, 4); p != nil {
		q.Priority = int(*p)
	}
	q.TagsAll, q.TagsAny = list("tags_all"), list("tags_any")
	q.CreatedFrom, q.CreatedTo = stamp("created_from"), stamp("created_to")
	q.StartedFrom, q.StartedTo = stamp("started_from"), stamp("started_to")
	q.FinishedFrom, q.FinishedTo = stamp("finished_from"), stamp("finished_to")
	q.MinDurationMs = number("min_duration_ms", 0, 1e12)
	q.MaxDurationMs = number("max_duration_ms", 0, 1e12)
	q.MinCost, q.MaxCost = decimal("min_cost"), decimal("max_cost")
	if b := number("batch", 1, 1<<62); b != nil {
		q.BatchID = *b
	}
	q.StepName = text("step", 200)
	q.StepStatus = text("step_status", 20)
	if q.StepStatus != "" && !slices.Contains(taskStatuses, q.StepStatus) {
		bad("step_status", "unknown task status %q (one of %s)", q.StepStatus, strings.Join(taskStatuses, ", "))
	}
	q.Text = text("q", 1000)
	q.Sort = v.Get("sort")
	if q.Sort == "" {
		q.Sort = SortCreated
	}
	if !slices.Contains([]string{SortCreated, SortFinished, SortDuration, SortCost}, q.Sort) {
		bad("sort", "must be created, finished, duration or cost")
	}
	q.Limit = 50
	if n := number("limit", 1, 500); n != nil {
		q.Limit = int(*n)
	}
	q.Cursor = text("cursor", 200)
	if len(problems) > 0 {
		return q, &engine.ValidationError{Problems: problems}
	}
	return q, nil
}

// Encode returns q as a query string ParseQuery reads back (without the
// cursor): what saved searches keep and bookmarks carry.
func (q Query) Encode() string {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	stamp := func(k string, t *time.Time) {
		if t != nil {
			v.Set(k, t.UTC().Format(time.RFC3339Nano))
		}
	}
	set("workflow", q.Workflow)
	set("status", strings.Join(q.Statuses, ","))
	set("owner", q.Owner)
	set("trigger", q.Trigger)
	if q.Priority > 0 {
		v.Set("priority", strconv.Itoa(q.Priority))
	}
	set("tags_all", strings.Join(q.TagsAll, ","))
	set("tags_any", strings.Join(q.TagsAny, ","))
	stamp("created_from", q.CreatedFrom)
	stamp("created_to", q.CreatedTo)
	stamp("started_from", q.StartedFrom)
	stamp("started_to", q.StartedTo)
	stamp("finished_from", q.FinishedFrom)
	stamp("finished_to", q.FinishedTo)
	if q.MinDurationMs != nil {
		v.Set("min_duration_ms", strconv.FormatInt(*q.MinDurationMs, 10))
	}
	if q.MaxDurationMs != nil {
		v.Set("max_duration_ms", strconv.FormatInt(*q.MaxDurationMs, 10))
	}
	set("min_cost", q.MinCost)
	set("max_cost", q.MaxCost)
	if q.BatchID > 0 {
		v.Set("batch", strconv.FormatInt(q.BatchID, 10))
	}
	set("step", q.StepName)
	set("step_status", q.StepStatus)
	set("q", q.Text)
	if q.Sort != "" && q.Sort != SortCreated {
		v.Set("sort", q.Sort)
	}
	if q.Limit > 0 && q.Limit != 50 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v.Encode()
}

// Run is a run found.
type Run struct {
	ID         int64
	Workflow   string
	Version    int
	Status     string
	Priority   int
	Owner      string
	Tags       []string
	Trigger    string
	TriggerRef *string
	Error      *string
	TasksTotal int
	CreatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
	DurationMs *int64
	// Cost is the finished run's cost (the sum of its tasks' prices, as a
	// decimal string); empty while it runs or when nothing is priced.
	Cost string
	// Highlight shows the matches of a full-text query (<mark>...</mark>).
	Highlight string
}

// Page is one page of results.
type Page struct {
	Runs       []Run
	NextCursor string // empty on the last page
}

// cursor is the keyset position after a page's last run.
type cursor struct {
	Sort       string     `json:"s"`
	ID         int64      `json:"id"`
	Finished   *time.Time `json:"f,omitempty"`
	DurationUs *int64     `json:"d,omitempty"`
	Cost       string     `json:"c,omitempty"`
}

// Service searches runs and keeps saved searches.
type Service struct {
	pool    *pgxpool.Pool
	queries *dbsqlc.Queries
}

// New returns a Service on pool.
func New(pool *pgxpool.Pool) *Service {
	return &Service{pool: pool, queries: dbsqlc.New()}
}

func interval(ms *int64) pgtype.Interval {
	if ms == nil {
		return pgtype.Interval{}
	}
	return pgtype.Interval{Microseconds: *ms * 1000, Valid: true}
}

// numeric converts a decimal string ParseQuery checked (or a cursor's) to
// a query argument; empty or unreadable is NULL.
func numeric(s string) pgtype.Numeric {
	var n pgtype.Numeric
	if s == "" || n.Scan(s) != nil {
		return pgtype.Numeric{}
	}
	return n
}

// decimalString formats a numeric exactly, without exponent.
func decimalString(n pgtype.Numeric) string {
	if !n.Valid {
		return ""
	}
	v, err := n.Value()
	if err != nil {
		return ""
	}
	s, _ := v.(string)
	return s
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Search runs q. Every query plans with its actual values (a custom
// plan), so the filters left out cost nothing and the indexes of those
// given are used.
func (s *Service) Search(ctx context.Context, q Query) (*Page, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	if q.Sort == "" {
		q.Sort = SortCreated
	}
	var after cursor
	if q.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || json.Unmarshal(raw, &after) != nil || after.Sort != q.Sort || after.ID <= 0 ||
			(q.Sort == SortFinished && after.Finished == nil) || (q.Sort == SortDuration && after.DurationUs == nil) ||
			(q.Sort == SortCost && !numeric(after.Cost).Valid) {
			return nil, &engine.ValidationError{Problems: []engine.Problem{{Field: "cursor",
				Message: "not a cursor of this sort (pass next_cursor back unchanged)"}}}
		}
	}
	p := dbsqlc.RunSearchByCreatedParams{
		Workflow: strPtr(q.Workflow), Statuses: q.Statuses, Owner: strPtr(q.Owner), Trigger: strPtr(q.Trigger),
		TagsAll: q.TagsAll, TagsAny: q.TagsAny, CreatedFrom: q.CreatedFrom, CreatedTo: q.CreatedTo,
		StartedFrom: q.StartedFrom, StartedTo: q.StartedTo, FinishedFrom: q.FinishedFrom, FinishedTo: q.FinishedTo,
		MinDuration: interval(q.MinDurationMs), MaxDuration: interval(q.MaxDurationMs), StepName: strPtr(q.StepName),
		StepStatus: strPtr(q.StepStatus), Q: strPtr(q.Text), MinCost: numeric(q.MinCost), MaxCost: numeric(q.MaxCost),
		MaxRows: int32(q.Limit),
	}
	if q.Priority > 0 {
		p.Priority = new(int16(q.Priority))
	}
	if q.BatchID > 0 {
		p.BatchID = &q.BatchID
	}
	if after.ID > 0 {
		p.AfterID = &after.ID
	}
	var rows []*dbsqlc.RunSearchByCreatedRow
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_custom_plan"); err != nil {
			return err
		}
		var err error
		switch q.Sort {
		case SortFinished:
			fp := dbsqlc.RunSearchByFinishedParams{AfterID: p.AfterID, AfterFinished: after.Finished, Workflow: p.Workflow,
				Statuses: p.Statuses, Owner: p.Owner, Trigger: p.Trigger, Priority: p.Priority, TagsAll: p.TagsAll,
				TagsAny: p.TagsAny, CreatedFrom: p.CreatedFrom, CreatedTo: p.CreatedTo, StartedFrom: p.StartedFrom,
				StartedTo: p.StartedTo, FinishedFrom: p.FinishedFrom, FinishedTo: p.FinishedTo, MinDuration: p.MinDuration,
				MaxDuration: p.MaxDuration, BatchID: p.BatchID, StepName: p.StepName, StepStatus: p.StepStatus, Q: p.Q,
				MinCost: p.MinCost, MaxCost: p.MaxCost, MaxRows: p.MaxRows}
			var got []*dbsqlc.RunSearchByFinishedRow
			got, err = s.queries.RunSearchByFinished(ctx, tx, &fp)
			for _, r := range got {
				rows = append(rows, (*dbsqlc.RunSearchByCreatedRow)(r))
			}
		case SortDuration:
			dp := dbsqlc.RunSearchByDurationParams{AfterID: p.AfterID, Workflow: p.Workflow,
				Statuses: p.Statuses, Owner: p.Owner, Trigger: p.Trigger, Priority: p.Priority, TagsAll: p.TagsAll,
				TagsAny: p.TagsAny, CreatedFrom: p.CreatedFrom, CreatedTo: p.CreatedTo, StartedFrom: p.StartedFrom,
				StartedTo: p.StartedTo, FinishedFrom: p.FinishedFrom, FinishedTo: p.FinishedTo, MinDuration: p.MinDuration,
				MaxDuration: p.MaxDuration, BatchID: p.BatchID, StepName: p.StepName, StepStatus: p.StepStatus, Q: p.Q,
				MinCost: p.MinCost, MaxCost: p.MaxCost, MaxRows: p.MaxRows}
			if after.DurationUs != nil {
				dp.AfterDuration = pgtype.Interval{Microseconds: *after.DurationUs, Valid: true}
			}
			var got []*dbsqlc.RunSearchByDurationRow
			got, err = s.queries.RunSearchByDuration(ctx, tx, &dp)
			for _, r := range got {
				rows = append(rows, (*dbsqlc.RunSearchByCreatedRow)(r))
			}
		case SortCost:
			cp := dbsqlc.RunSearchByCostParams{AfterID: p.AfterID, AfterCost: numeric(after.Cost), Workflow: p.Workflow,
				Statuses: p.Statuses, Owner: p.Owner, Trigger: p.Trigger, Priority: p.Priority, TagsAll: p.TagsAll,
				TagsAny: p.TagsAny, CreatedFrom: p.CreatedFrom, CreatedTo: p.CreatedTo, StartedFrom: p.StartedFrom,
				StartedTo: p.StartedTo, FinishedFrom: p.FinishedFrom, FinishedTo: p.FinishedTo, MinDuration: p.MinDuration,
				MaxDuration: p.MaxDuration, BatchID: p.BatchID, StepName: p.StepName, StepStatus: p.StepStatus, Q: p.Q,
				MinCost: p.MinCost, MaxCost: p.MaxCost, MaxRows: p.MaxRows}
			var got []*dbsqlc.RunSearchByCostRow
			got, err = s.queries.RunSearchByCost(ctx, tx, &cp)
			for _, r := range got {
				rows = append(rows, &dbsqlc.RunSearchByCreatedRow{ID: r.ID, WorkflowName: r.WorkflowName,
					WorkflowVersion: r.WorkflowVersion, Status: r.Status, Priority: r.Priority, Owner: r.Owner, Tags: r.Tags,
					Trigger: r.Trigger, TriggerRef: r.TriggerRef, Error: r.Error, TasksTotal: r.TasksTotal,
					CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt})
			}
		default:
			rows, err = s.queries.RunSearchByCreated(ctx, tx, &p)
		}
		return err
	})
	if err != nil {
		return nil, dbError(err, "search")
	}
	page := &Page{Runs: make([]Run, len(rows))}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		run := Run{ID: r.ID, Workflow: r.WorkflowName, Version: int(r.WorkflowVersion), Status: r.Status,
			Priority: int(r.Priority), Owner: r.Owner, Tags: r.Tags, Trigger: r.Trigger, TriggerRef: r.TriggerRef,
			Error: r.Error, TasksTotal: int(r.TasksTotal), CreatedAt: r.CreatedAt, StartedAt: r.StartedAt,
			FinishedAt: r.FinishedAt}
		if r.StartedAt != nil && r.FinishedAt != nil {
			run.DurationMs = new(r.FinishedAt.Sub(*r.StartedAt).Milliseconds())
		}
		page.Runs[i] = run
		ids[i] = r.ID
	}
	if len(rows) == q.Limit {
		last := rows[len(rows)-1]
		c := cursor{Sort: q.Sort, ID: last.ID}
		switch q.Sort {
		case SortFinished:
			c.Finished = last.FinishedAt
		case SortDuration:
			c.DurationUs = new(last.FinishedAt.Sub(*last.StartedAt).Microseconds())
		}
		raw, _ := json.Marshal(c)
		page.NextCursor = base64.RawURLEncoding.EncodeToString(raw)
	}
	if len(ids) > 0 {
		costs, err := s.queries.RunSearchCosts(ctx, s.pool, ids)
		if err != nil {
			return nil, dbError(err, "search costs")
		}
		byID := make(map[int64]string, len(costs))
		for _, c := range costs {
			byID[c.RunID] = decimalString(c.Cost)
		}
		for i := range page.Runs {
			page.Runs[i].Cost = byID[page.Runs[i].ID]
		}
		if q.Sort == SortCost && page.NextCursor != "" {
			c := cursor{Sort: q.Sort, ID: ids[len(ids)-1], Cost: byID[ids[len(ids)-1]]}
			raw, _ := json.Marshal(c)
			page.NextCursor = base64.RawURLEncoding.EncodeToString(raw)
		}
	}
	if q.Text != "" && len(ids) > 0 {
		hl, err := s.queries.RunSearchHighlights(ctx, s.pool, &dbsqlc.RunSearchHighlightsParams{Q: q.Text, Ids: ids})
		if err != nil {
			return nil, dbError(err, "search highlights")
		}
		byID := map[int64]string{}
		for _, h := range hl {
			byID[h.RunID] = h.Highlight
		}
		for i := range page.Runs {
			page.Runs[i].Highlight = byID[page.Runs[i].ID]
		}
	}
	return page, nil
}

// indexStep is how many events one transaction of the indexer reads. The
// documents of their runs are rewritten in that transaction; a long one
// would hold back, for its whole length, every reader of the server that
// waits for the transactions in flight to end (the live stream's gap proof).
const indexStep = 1000

// Index writes the full-text documents of the runs started or ended since
// the last call (events past the indexer's high-water mark) and returns how
// many, in transactions of at most indexStep events each, until it has
// caught up. Calls take turns (the indexer row is locked).
func (s *Service) Index(ctx context.Context) (int, error) {
	total := 0
	for {
		n, more, err := s.indexStep(ctx)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

// indexStep indexes the runs of up to indexStep events in one transaction
// and reports whether more events may be waiting.
func (s *Service) indexStep(ctx context.Context) (indexed int, more bool, err error) {
	var n int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		state, err := s.queries.SearchIndexerLock(ctx, tx)
		if err != nil {
			return fmt.Errorf("lock indexer: %w", err)
		}
		cur := eventcursor.Cursor{Last: state.LastEventID, Pending: state.PendingIds, PendingSeenMs: state.PendingSeenMs}
		step, err := eventcursor.Read(ctx, tx, cur, indexStep, time.Now())
		if err != nil {
			return err
		}
		more = step.Listed == indexStep
		if step.Moved(cur) {
			ids, err := s.queries.SearchEventRuns(ctx, tx, &dbsqlc.SearchEventRunsParams{
				AfterID: cur.Last, UptoID: step.Upto, PendingIds: step.Visible,
			})
			if err != nil {
				return fmt.Errorf("read events: %w", err)
			}
			// Skipped ids are read on the next call; indexing twice is
			// harmless (an upsert), so they are not filtered here.
			if len(ids) > 0 {
				if n, err = s.queries.SearchIndexRuns(ctx, tx, ids); err != nil {
					return fmt.Errorf("index runs: %w", err)
				}
			}
		}
		return s.queries.SearchIndexerSave(ctx, tx, &dbsqlc.SearchIndexerSaveParams{
			LastEventID: step.Next.Last, PendingIds: step.Next.Pending, PendingSeenMs: step.Next.PendingSeenMs,
		})
	})
	if err != nil {
		return 0, false, dbError(err, "search index")
	}
	return int(n), more, nil
}

func dbError(err error, what string) error {
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && (pgErr.Code[:2] == "22" || pgErr.Code == "42601"):
		return fmt.Errorf("%s: %s: %w", what, pgErr.Message, engine.ErrInvalid)
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%s not found: %w", what, engine.ErrNotFound)
	case engine.IsUnavailable(err):
		return fmt.Errorf("%s: %w: %w", what, engine.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// WorkflowRate is a workflow's outcomes over a window.
type WorkflowRate struct {
	Workflow  string
	Finished  int64
	Succeeded int64
	Failed    int64
	Cancelled int64
	// SuccessRate is succeeded / finished; nil when none finished.
	SuccessRate *float64
}

// WorkflowRates returns every workflow with its runs finished since since,
// sorted by name, or by success rate (worst first, then name; those with
// no finished run last) when byRate.
func (s *Service) WorkflowRates(ctx context.Context, since time.Time, byRate bool) ([]WorkflowRate, error) {
	rows, err := s.queries.WorkflowSuccessRates(ctx, s.pool, &since)
	if err != nil {
		return nil, dbError(err, "workflow success rates")
	}
	out := make([]WorkflowRate, len(rows))
	for i, r := range rows {
		out[i] = WorkflowRate{Workflow: r.WorkflowName, Finished: r.Finished, Succeeded: r.Succeeded, Failed: r.Failed,
			Cancelled: r.Cancelled}
		if r.Finished > 0 {
			out[i].SuccessRate = new(float64(r.Succeeded) / float64(r.Finished))
		}
	}
	if byRate {
		slices.SortStableFunc(out, func(a, b WorkflowRate) int {
			switch {
			case a.SuccessRate == nil || b.SuccessRate == nil:
				if (a.SuccessRate == nil) != (b.SuccessRate == nil) {
					if a.SuccessRate == nil {
						return 1
					}
					return -1
				}
			case *a.SuccessRate < *b.SuccessRate:
				return -1
			case *a.SuccessRate > *b.SuccessRate:
				return 1
			}
			return strings.Compare(a.Workflow, b.Workflow)
		})
	}
	return out, nil
}
