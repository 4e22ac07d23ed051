package analytics

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// flushEvery is how many rows an export writes between flushes.
const flushEvery = 1000

// errCaptured stops a generated query method once captureDB has its text.
var errCaptured = errors.New("query captured")

// captureDB is a dbsqlc.DBTX that records the query text and arguments the
// generated code would run, and runs nothing. Exports use it to run the
// SQL of queries/analytics.sql (checked by sqlc) with a cursor of their own:
// the generated methods collect every row in a slice, which an export of a
// million rows must not.
type captureDB struct {
	sql  string
	args []any
}

func (c *captureDB) Exec(context.Context, string, ...any) (pgconn.CommandTag, error) {
	return pgconn.CommandTag{}, errCaptured
}

func (c *captureDB) Query(_ context.Context, sql string, args ...any) (pgx.Rows, error) {
	c.sql, c.args = sql, args
	return nil, errCaptured
}

func (c *captureDB) QueryRow(context.Context, string, ...any) pgx.Row { return nil }

func (c *captureDB) CopyFrom(context.Context, pgx.Identifier, []string, pgx.CopyFromSource) (int64, error) {
	return 0, errCaptured
}

func (c *captureDB) SendBatch(context.Context, *pgx.Batch) pgx.BatchResults { return nil }

// Export is an open cursor over an export's rows. Write it with WriteCSV or
// WriteJSON, then Close it.
type Export struct {
	rows pgx.Rows
}

// Close releases the cursor and its connection.
func (x *Export) Close() { x.rows.Close() }

func (s *Service) open(ctx context.Context, c *captureDB, err error, what string) (*Export, error) {
	if !errors.Is(err, errCaptured) {
		return nil, fmt.Errorf("%s: capture query: %w", what, err)
	}
	rows, err := s.db.Query(ctx, c.sql, c.args...)
	if err != nil {
		return nil, translate(err, what)
	}
	return &Export{rows: rows}, nil
}

// RunExportFilter selects the runs (and, for a task export, their tasks)
// created in the window.
type RunExportFilter struct {
	Filter
	// Status keeps runs of this status ('' for any).
	Status string
}

// ExportRuns opens a cursor over the runs created in the window, oldest
// first.
func (s *Service) ExportRuns(ctx context.Context, f RunExportFilter) (*Export, error) {
	var err error
	if f.Filter, err = s.resolve(f.Filter, DefaultWindow); err != nil {
		return nil, err
	}
	c := &captureDB{}
	_, err = s.queries.ExportRuns(ctx, c, &dbsqlc.ExportRunsParams{FromTime: f.From, ToTime: f.To,
		Workflow: f.Workflow, Owner: f.Owner, Tags: f.Tags, Status: f.Status, TaskType: f.TaskType})
	return s.open(ctx, c, err, "export runs")
}

// ExportTasks opens a cursor over the tasks of the runs created in the
// window, run by run in step order.
func (s *Service) ExportTasks(ctx context.Context, f Filter) (*Export, error) {
	f, err := s.resolve(f, DefaultWindow)
	if err != nil {
		return nil, err
	}
	c := &captureDB{}
	_, err = s.queries.ExportTasks(ctx, c, &dbsqlc.ExportTasksParams{FromTime: f.From, ToTime: f.To,
		Workflow: f.Workflow, Owner: f.Owner, Tags: f.Tags, TaskType: f.TaskType})
	return s.open(ctx, c, err, "export tasks")
}

// EventExportFilter selects events by time, run and kind.
type EventExportFilter struct {
	From, To time.Time
	// RunID keeps one run's events (0 for any).
	RunID int64
	// Kind keeps one kind of event ('' for any).
	Kind string
}

// ExportEvents opens a cursor over the events of the window, by id.
func (s *Service) ExportEvents(ctx context.Context, f EventExportFilter) (*Export, error) {
	w, err := s.resolve(Filter{From: f.From, To: f.To}, DefaultWindow)
	if err != nil {
		return nil, err
	}
	c := &captureDB{}
	_, err = s.queries.ExportEvents(ctx, c, &dbsqlc.ExportEventsParams{FromTime: w.From, ToTime: w.To, RunID: f.RunID, Kind: f.Kind})
	return s.open(ctx, c, err, "export events")
}

func (x *Export) columns() []string {
	fields := x.rows.FieldDescriptions()
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	return names
}

// WriteCSV writes a header line and one line per row to w, calling flush
// every 1000 rows, and returns the number of rows written. Times are RFC
// 3339 in UTC, NULL is empty, arrays and JSON are JSON text.
func (x *Export) WriteCSV(w io.Writer, flush func()) (int64, error) {
	cw := csv.NewWriter(w)
	columns := x.columns()
	if err := cw.Write(columns); err != nil {
		return 0, fmt.Errorf("write csv: %w", err)
	}
	record := make([]string, len(columns))
	var n int64
	for x.rows.Next() {
		values, err := x.rows.Values()
		if err != nil {
			return n, fmt.Errorf("read row: %w", err)
		}
		for i, v := range values {
			record[i] = csvText(v)
		}
		if err := cw.Write(record); err != nil {
			return n, fmt.Errorf("write csv: %w", err)
		}
		if n++; n%flushEvery == 0 {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return n, fmt.Errorf("write csv: %w", err)
			}
			flush()
		}
	}
	if err := x.rows.Err(); err != nil {
		return n, fmt.Errorf("read rows: %w", err)
	}
	cw.Flush()
	flush()
	return n, cw.Error()
}

// WriteJSON writes the rows to w as one JSON array of objects (keys in
// column order), calling flush every 1000 rows, and returns the number of
// rows written.
func (x *Export) WriteJSON(w io.Writer, flush func()) (int64, error) {
	columns := x.columns()
	keys := make([][]byte, len(columns))
	for i, c := range columns {
		k, _ := json.Marshal(c)
		keys[i] = append(k, ':')
	}
	buf := make([]byte, 0, 4096)
	buf = append(buf, '[')
	var n int64
	for x.rows.Next() {
		values, err := x.rows.Values()
		if err != nil {
			return n, fmt.Errorf("read row: %w", err)
		}
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, "\n{"...)
		for i, v := range values {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, keys[i]...)
			if t, ok := v.(time.Time); ok {
				v = t.UTC()
			}
			b, err := json.Marshal(v)
			if err != nil {
				return n, fmt.Errorf("encode %s: %w", columns[i], err)
			}
			buf = append(buf, b...)
		}
		buf = append(buf, '}')
		if _, err := w.Write(buf); err != nil {
			return n, fmt.Errorf("write json: %w", err)
		}
		buf = buf[:0]
		if n++; n%flushEvery == 0 {
			flush()
		}
	}
	if err := x.rows.Err(); err != nil {
		return n, fmt.Errorf("read rows: %w", err)
	}
	if _, err := w.Write(append(buf, "\n]\n"...)); err != nil {
		return n, fmt.Errorf("write json: %w", err)
	}
	flush()
	return n, nil
}

// csvText formats one value of a row for CSV.
func csvText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case int64:
		return strconv.FormatInt(v, 10)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case int16:
		return strconv.FormatInt(int64(v), 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case []byte:
		return string(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
}
