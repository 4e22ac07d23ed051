// Package metrics serves Baton's Prometheus metrics: queue depth, runs and
// tasks by outcome, task durations, retries, circuit-breaker states,
// dead-letter size, SSE clients and API request durations.
//
// Figures that need the database are read on scrape, at most once per TTL
// (5 s by default) whatever the number of scrapers, in one read-only
// transaction. Outcome counters and duration histograms come from the
// rollup totals (baton.task_rollup_totals, kept by the baton_rollup job), so
// nothing is added to the task path; they trail the event log by about a
// minute. Each Metrics has its own prometheus.Registry.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// DefaultTTL is how long a database read serves scrapes.
const DefaultTTL = 5 * time.Second

// queryTimeout bounds one refresh.
const queryTimeout = 5 * time.Second

// DB is what Metrics reads through: a pool, or anything that begins
// transactions (a test wraps it to count queries).
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Options configures Metrics.
type Options struct {
	// TTL is how long one read of the database serves scrapes (default 5 s).
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives refresh errors (default: discarded).
	Logger *slog.Logger
	// SSEClients reports the number of connected stream clients (nil: 0
	// until SetSSEClients is called).
	SSEClients func() int
	// GoCollectors adds the Go runtime and process collectors.
	GoCollectors bool
}

// Metrics is a registry of Baton's metrics and its HTTP handler.
type Metrics struct {
	db      DB
	queries *dbsqlc.Queries
	opts    Options

	registry *prometheus.Registry
	requests *prometheus.HistogramVec

	mu        sync.Mutex
	refreshes uint64 // reads of the database for scrapes
	snap      *snapshot
	snapAt    time.Time
	snapErr   error
	boundsMs  []int64

	sseMu sync.RWMutex
	sse   func() int
}

// snapshot is one read of the database.
type snapshot struct {
	queues      []*dbsqlc.MetricsQueueDepthRow
	totals      []*dbsqlc.BatonTaskRollupTotal
	breakers    []*dbsqlc.MetricsBreakerStatesRow
	deadLetters int64
}

// New returns Metrics reading db.
func New(db DB, opts Options) *Metrics {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{db: db, queries: dbsqlc.New(), opts: opts, registry: prometheus.NewRegistry(), sse: opts.SSEClients}
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "baton_api_request_duration_seconds",
		Help:    "API request durations by operation id, method and status code.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"operation", "method", "code"})
	sse := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "baton_sse_clients",
		Help: "Connected live-stream (SSE) clients of this process.",
	}, m.sseClients)
	m.registry.MustRegister(m.requests, sse, &dbCollector{m: m})
	if opts.GoCollectors {
		m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Register adds a collector of another package (alert deliveries, ...).
func (m *Metrics) Register(c prometheus.Collector) error {
	return m.registry.Register(c)
}

// SetSSEClients sets the function that reports connected stream clients.
func (m *Metrics) SetSSEClients(fn func() int) {
	m.sseMu.Lock()
	defer m.sseMu.Unlock()
	m.sse = fn
}

func (m *Metrics) sseClients() float64 {
	m.sseMu.RLock()
	defer m.sseMu.RUnlock()
	if m.sse == nil {
		return 0
	}
	return float64(m.sse())
}

// ObserveRequest records one API request's duration.
func (m *Metrics) ObserveRequest(operation, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(operation, method, strconv.Itoa(status)).Observe(d.Seconds())
}

// refreshCount returns how many times the database was read for scrapes.
func (m *Metrics) refreshCount() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.refreshes
}

// current returns the cached snapshot, reading the database when it is
// older than the TTL. Concurrent scrapes wait for one read.
func (m *Metrics) current() (*snapshot, []int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	if !m.snapAt.IsZero() && now.Sub(m.snapAt) < m.opts.TTL {
		return m.snap, m.boundsMs, m.snapErr
	}
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	m.refreshes++
	snap, err := m.read(ctx)
	m.snapAt = now
	m.snap, m.snapErr = snap, err
	if err != nil {
		m.opts.Logger.Warn("metrics: read database", slog.String("error", err.Error()))
	}
	return m.snap, m.boundsMs, m.snapErr
}

func (m *Metrics) read(ctx context.Context) (*snapshot, error) {
	tx, err := m.db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "SET TRANSACTION READ ONLY"); err != nil {
		return nil, fmt.Errorf("read only: %w", err)
	}
	if m.boundsMs == nil {
		b, err := m.queries.RollupDurationBounds(ctx, tx)
		if err != nil {
			return nil, fmt.Errorf("duration bounds: %w", err)
		}
		m.boundsMs = b
	}
	var s snapshot
	if s.queues, err = m.queries.MetricsQueueDepth(ctx, tx); err != nil {
		return nil, fmt.Errorf("queue depth: %w", err)
	}
	if s.totals, err = m.queries.RollupTotalsList(ctx, tx); err != nil {
		return nil, fmt.Errorf("rollup totals: %w", err)
	}
	if s.breakers, err = m.queries.MetricsBreakerStates(ctx, tx); err != nil {
		return nil, fmt.Errorf("breakers: %w", err)
	}
	if s.deadLetters, err = m.queries.MetricsDeadLetterCount(ctx, tx); err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	return &s, nil
}

var (
	descRefreshes   = prometheus.NewDesc("baton_metrics_refreshes_total", "Reads of the database made to answer scrapes (at most one per TTL).", nil, nil)
	descUp          = prometheus.NewDesc("baton_database_up", "1 when the last read of the database for metrics succeeded.", nil, nil)
	descQueue       = prometheus.NewDesc("baton_queue_jobs", "River jobs by queue, priority (1 high .. 4 background) and state.", []string{"queue", "priority", "state"}, nil)
	descTasks       = prometheus.NewDesc("baton_tasks_total", "Task events by task type and outcome (succeeded, attempt_failed, dead, attempt_interrupted, skipped, cancelled, retried, ...).", []string{"task_type", "outcome"}, nil)
	descRuns        = prometheus.NewDesc("baton_runs_total", "Finished runs by outcome (succeeded, failed, cancelled).", []string{"outcome"}, nil)
	descRetries     = prometheus.NewDesc("baton_task_retries_total", "Failed attempts that were retried automatically, by task type.", []string{"task_type"}, nil)
	descDuration    = prometheus.NewDesc("baton_task_duration_seconds", "Durations of task attempts (any outcome) by task type.", []string{"task_type"}, nil)
	descBreaker     = prometheus.NewDesc("baton_circuit_breaker_state", "1 for the current state of each circuit breaker (closed, open, half_open).", []string{"key", "state"}, nil)
	descBreakerHeld = prometheus.NewDesc("baton_circuit_breaker_forced", "1 while an operator holds the breaker open.", []string{"key"}, nil)
	descDeadLetters = prometheus.NewDesc("baton_dead_letters", "Entries in the dead-letter queue.", nil, nil)
)

// attemptKinds are the event kinds that carry an attempt's duration.
var attemptKinds = map[string]bool{
	"task_succeeded": true, "task_attempt_failed": true, "task_dead": true, "task_attempt_interrupted": true,
}

// dbCollector collects the metrics read from the database.
type dbCollector struct{ m *Metrics }

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRefreshes, descUp, descQueue, descTasks, descRuns, descRetries, descDuration,
		descBreaker, descBreakerHeld, descDeadLetters} {
		ch <- d
	}
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	snap, boundsMs, err := c.m.current()
	// Reported here, after the read this scrape may have caused: the
	// registry gathers collectors concurrently.
	ch <- prometheus.MustNewConstMetric(descRefreshes, prometheus.CounterValue, float64(c.m.refreshCount()))
	if err != nil || snap == nil {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	for _, q := range snap.queues {
		ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(q.Jobs),
			q.Queue, strconv.Itoa(int(q.Priority)), q.State)
	}
	type hist struct {
		count   uint64
		sumMs   int64
		buckets []int64
	}
	durations := map[string]*hist{}
	for _, t := range snap.totals {
		switch {
		case strings.HasPrefix(t.Kind, "run_") && (t.Kind == "run_succeeded" || t.Kind == "run_failed" || t.Kind == "run_cancelled"):
			ch <- prometheus.MustNewConstMetric(descRuns, prometheus.CounterValue, float64(t.Events), strings.TrimPrefix(t.Kind, "run_"))
		case strings.HasPrefix(t.Kind, "task_") && t.TaskType != "":
			ch <- prometheus.MustNewConstMetric(descTasks, prometheus.CounterValue, float64(t.Events), t.TaskType, strings.TrimPrefix(t.Kind, "task_"))
			if t.Kind == "task_attempt_failed" {
				ch <- prometheus.MustNewConstMetric(descRetries, prometheus.CounterValue, float64(t.Events), t.TaskType)
			}
		}
		if attemptKinds[t.Kind] && t.TaskType != "" && t.DurationCount > 0 {
			h := durations[t.TaskType]
			if h == nil {
				h = &hist{}
				durations[t.TaskType] = h
			}
			h.count += uint64(t.DurationCount)
			h.sumMs += t.DurationSumMs
			if len(h.buckets) < len(t.DurationBuckets) {
				h.buckets = append(h.buckets, make([]int64, len(t.DurationBuckets)-len(h.buckets))...)
			}
			for i, n := range t.DurationBuckets {
				h.buckets[i] += n
			}
		}
	}
	for taskType, h := range durations {
		cumulative := make(map[float64]uint64, len(boundsMs))
		var acc uint64
		for i, bound := range boundsMs {
			if i < len(h.buckets) {
				acc += uint64(h.buckets[i])
			}
			cumulative[float64(bound)/1000] = acc
		}
		ch <- prometheus.MustNewConstHistogram(descDuration, h.count, float64(h.sumMs)/1000, cumulative, taskType)
	}
	for _, b := range snap.breakers {
		for _, state := range []string{"closed", "open", "half_open"} {
			v := 0.0
			if b.State == state {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descBreaker, prometheus.GaugeValue, v, b.Key, state)
		}
		forced := 0.0
		if b.Forced {
			forced = 1
		}
		ch <- prometheus.MustNewConstMetric(descBreakerHeld, prometheus.GaugeValue, forced, b.Key)
	}
	ch <- prometheus.MustNewConstMetric(descDeadLetters, prometheus.GaugeValue, float64(snap.deadLetters))
}
