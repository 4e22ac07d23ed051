package analytics

import (
	"encoding/csv"
	"strconv"
	"strings"
	"time"
)

// CSVWriter is a result that can write itself as CSV: a header line, then
// one line per row. Every analytics result implements it.
type CSVWriter interface {
	WriteCSV(w *csv.Writer) error
}

func i64(n int64) string   { return strconv.FormatInt(n, 10) }
func f64(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
func ts(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

func writeAll(w *csv.Writer, header []string, rows [][]string) error {
	if err := w.Write(header); err != nil {
		return err
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

// WriteCSV writes one line per status.
func (c Completion) WriteCSV(w *csv.Writer) error {
	rows := make([][]string, len(c.Statuses))
	for i, s := range c.Statuses {
		rows[i] = []string{s.Status, i64(s.Runs), f64(s.Rate)}
	}
	return writeAll(w, []string{"status", "runs", "rate"}, rows)
}

// WriteCSV writes one line per day.
func (d DurationTrend) WriteCSV(w *csv.Writer) error {
	rows := make([][]string, len(d.Days))
	for i, r := range d.Days {
		rows[i] = []string{ts(r.Day), i64(r.Runs), f64(r.P50Ms), f64(r.P95Ms)}
	}
	return writeAll(w, []string{"day", "runs", "p50_ms", "p95_ms"}, rows)
}

// WriteCSV writes one line per task type.
func (o TaskTypeOutcomes) WriteCSV(w *csv.Writer) error {
	rows := make([][]string, len(o.TaskTypes))
	for i, r := range o.TaskTypes {
		rows[i] = []string{r.TaskType, i64(r.Succeeded), i64(r.Dead), i64(r.Attempts), i64(r.Retried),
			f64(r.SuccessRate), f64(r.AttemptSuccessRate)}
	}
	return writeAll(w, []string{"task_type", "succeeded", "dead", "attempts", "retried", "success_rate", "attempt_success_rate"}, rows)
}

// WriteCSV writes one line per class (message empty) then one per message.
func (e ErrorDistribution) WriteCSV(w *csv.Writer) error {
	rows := make([][]string, 0, len(e.Classes)+len(e.Messages))
	for _, c := range e.Classes {
		rows = append(rows, []string{c.ErrorClass, "", i64(c.Occurrences), "", ""})
	}
	for _, m := range e.Messages {
		rows = append(rows, []string{m.ErrorClass, m.Message, i64(m.Occurrences), ts(m.LastSeen), strings.Join(m.Examples, "\n")})
	}
	return writeAll(w, []string{"error_class", "message", "occurrences", "last_seen", "examples"}, rows)
}

// WriteCSV writes one line per task type, workflow and owner.
func (c CostBreakdown) WriteCSV(w *csv.Writer) error {
	var rows [][]string
	for _, part := range []struct {
		dim   string
		lines []CostLine
	}{{"task_type", c.TaskTypes}, {"workflow", c.Workflows}, {"owner", c.Owners}} {
		for _, l := range part.lines {
			rows = append(rows, []string{part.dim, l.Key, i64(l.Attempts), f64(l.Seconds), l.Cost})
		}
	}
	return writeAll(w, []string{"dimension", "key", "attempts", "seconds", "cost"}, rows)
}

// WriteCSV writes one line per queue and priority.
func (q QueueStats) WriteCSV(w *csv.Writer) error {
	rows := make([][]string, len(q.Queues))
	for i, r := range q.Queues {
		rows[i] = []string{r.Queue, strconv.Itoa(r.Priority), i64(r.Available), i64(r.Scheduled), i64(r.Retryable),
			i64(r.Running), i64(r.Waited), f64(r.WaitAvgMs), f64(r.WaitP50Ms), f64(r.WaitP95Ms)}
	}
	return writeAll(w, []string{"queue", "priority", "available", "scheduled", "retryable", "running", "waited",
		"wait_avg_ms", "wait_p50_ms", "wait_p95_ms"}, rows)
}

// WriteCSV writes one line per node and hour.
func (h Heatmap) WriteCSV(w *csv.Writer) error {
	rows := make([][]string, len(h.Cells))
	for i, c := range h.Cells {
		rows[i] = []string{c.Node, ts(c.Hour), i64(c.Attempts), f64(c.BusySeconds)}
	}
	return writeAll(w, []string{"node", "hour", "attempts", "busy_seconds"}, rows)
}

// WriteCSV writes one line per attempt of each task (a task without
// attempts gets one line with empty attempt columns).
func (g Gantt) WriteCSV(w *csv.Writer) error {
	opt := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return ts(*t)
	}
	var rows [][]string
	for _, t := range g.Tasks {
		base := []string{t.Step, t.TaskType, t.Status, strings.Join(t.DependsOn, " "), opt(t.QueuedAt), opt(t.StartedAt),
			opt(t.FinishedAt), i64(t.ElapsedMs), i64(t.SlackMs), strconv.FormatBool(t.Critical)}
		if len(t.Attempts) == 0 {
			rows = append(rows, append(base, "", "", "", "", ""))
		}
		for _, a := range t.Attempts {
			rows = append(rows, append(append([]string{}, base...), strconv.Itoa(a.Attempt), a.Outcome, ts(a.StartedAt), ts(a.EndedAt), a.Node))
		}
	}
	return writeAll(w, []string{"step", "task_type", "status", "depends_on", "queued_at", "started_at", "finished_at",
		"elapsed_ms", "slack_ms", "critical", "attempt", "outcome", "attempt_started_at", "attempt_ended_at", "node"}, rows)
}
