package analytics

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// Bounds of RecommendStart.
const (
	// RecommendHistory is how far back utilization and durations are read.
	RecommendHistory = 30 * 24 * time.Hour
	// RecommendHorizon is how far ahead start times are suggested.
	RecommendHorizon = 24 * time.Hour
	// defaultDuration stands for the workflow's duration when it has no
	// successful run in the history.
	defaultDuration = time.Hour
	// nodeTimeout is how long after its last heartbeat a node is gone
	// (engine.NodeTimeout).
	nodeTimeout  = 30 * time.Second
	hoursPerWeek = 7 * 24
)

// StartRecommendation is one suggested start time.
type StartRecommendation struct {
	Start time.Time
	// ExpectedLoad is the average number of tasks running cluster-wide
	// during the window the run would occupy, by hour of week over the
	// history.
	ExpectedLoad float64
	// Utilization is ExpectedLoad over the live nodes' worker slots (0
	// when no node is live).
	Utilization float64
	Reason      string
}

// StartAdvice is the answer of RecommendStart.
type StartAdvice struct {
	Workflow string
	// MedianDuration is the median duration of the workflow's recent
	// successful runs (RunsConsidered of them), or an hour without any.
	MedianDuration time.Duration
	RunsConsidered int
	// HistoryFrom and HistoryTo bound the utilization history read.
	HistoryFrom, HistoryTo time.Time
	// Slots are the worker slots of the live nodes.
	Slots int
	// Recommendations are the best start times, best first.
	Recommendations []StartRecommendation
	// Worst is the start time of the next 24 hours with the highest
	// expected load, for comparison.
	Worst     StartRecommendation
	Reasoning string
}

// RecommendStart suggests the count best hours (1 to 24) to start workflow
// in the next 24 hours: those whose window (the workflow's median duration)
// saw the least task activity, by hour of week, over the last 30 days. loc
// is the zone the reasons speak in (nil: UTC).
func (s *Service) RecommendStart(ctx context.Context, workflow string, count int, loc *time.Location) (*StartAdvice, error) {
	if count < 1 || count > 24 {
		return nil, &InvalidError{Field: "count", Message: "must be between 1 and 24"}
	}
	if loc == nil {
		loc = time.UTC
	}
	now := s.now().UTC()
	advice := &StartAdvice{Workflow: workflow, HistoryFrom: now.Add(-RecommendHistory).Truncate(time.Hour), HistoryTo: now.Truncate(time.Hour)}

	busy, err := s.queries.HourOfWeekBusy(ctx, s.pool, &dbsqlc.HourOfWeekBusyParams{FromTime: advice.HistoryFrom, ToTime: advice.HistoryTo})
	if err != nil {
		return nil, fmt.Errorf("read utilization by hour of week: %w", err)
	}
	median, err := s.queries.WorkflowMedianDuration(ctx, s.pool, &dbsqlc.WorkflowMedianDurationParams{Workflow: workflow, Since: advice.HistoryFrom})
	if err != nil {
		return nil, fmt.Errorf("read the median duration of %q: %w", workflow, err)
	}
	nodes, err := s.queries.LiveNodeSlots(ctx, s.pool, nodeTimeout.Seconds())
	if err != nil {
		return nil, fmt.Errorf("read live node slots: %w", err)
	}
	advice.RunsConsidered, advice.Slots = int(median.Runs), int(nodes.Slots)
	advice.MedianDuration = time.Duration(median.MedianMs) * time.Millisecond
	duration := advice.MedianDuration
	if advice.RunsConsidered == 0 || duration <= 0 {
		duration = defaultDuration
	}

	// Average running tasks per hour of week: busy time over the number of
	// times that hour of the week occurred in the history.
	var load, seen [hoursPerWeek]float64
	for t := advice.HistoryFrom; t.Before(advice.HistoryTo); t = t.Add(time.Hour) {
		seen[hourOfWeek(t)]++
	}
	for _, b := range busy {
		if h := b.HourOfWeek; h >= 0 && h < hoursPerWeek && seen[h] > 0 {
			load[h] = float64(b.BusyMs) / float64(time.Hour.Milliseconds()) / seen[h]
		}
	}

	var candidates []StartRecommendation
	first := now.Truncate(time.Hour).Add(time.Hour)
	for h := range int(RecommendHorizon / time.Hour) {
		start := first.Add(time.Duration(h) * time.Hour)
		expected := windowLoad(&load, start, duration)
		c := StartRecommendation{Start: start, ExpectedLoad: expected}
		if advice.Slots > 0 {
			c.Utilization = expected / float64(advice.Slots)
		}
		candidates = append(candidates, c)
	}
	slices.SortStableFunc(candidates, func(a, b StartRecommendation) int {
		return cmp.Compare(round3(a.ExpectedLoad), round3(b.ExpectedLoad))
	})
	advice.Worst = candidates[len(candidates)-1]
	advice.Worst.Reason = fmt.Sprintf("the busiest start: %.2f tasks ran on average in that window", advice.Worst.ExpectedLoad)
	for _, c := range candidates[:count] {
		c.Reason = reason(c, advice.Worst, duration, loc)
		advice.Recommendations = append(advice.Recommendations, c)
	}

	durationNote := fmt.Sprintf("the median duration of its last %d successful runs, %s", advice.RunsConsidered, advice.MedianDuration.Round(time.Second))
	if advice.RunsConsidered == 0 {
		durationNote = "an assumed hour, since it has no successful run in the history"
	}
	advice.Reasoning = fmt.Sprintf("Each whole hour of the next 24 is scored by the average number of tasks that ran, cluster-wide, "+
		"during the same hours of the week over the last 30 days (hourly rollups of task attempts), across the window the run "+
		"would occupy: %s. Lower is better; ties go to the earlier start.", durationNote)
	if advice.Slots > 0 {
		advice.Reasoning += fmt.Sprintf(" Utilization divides that load by the %d worker slots of the live nodes.", advice.Slots)
	}
	return advice, nil
}

// windowLoad is the average of load over [start, start+d), hour by hour of
// the week, each hour weighted by its overlap with the window.
func windowLoad(load *[hoursPerWeek]float64, start time.Time, d time.Duration) float64 {
	var sum, weight float64
	end := start.Add(d)
	for t := start; t.Before(end); {
		next := t.Truncate(time.Hour).Add(time.Hour)
		if next.After(end) {
			next = end
		}
		w := next.Sub(t).Hours()
		sum += load[hourOfWeek(t)] * w
		weight += w
		t = next
	}
	if weight == 0 {
		return 0
	}
	return sum / weight
}

// hourOfWeek numbers the hours of the week from Monday 00:00 UTC.
func hourOfWeek(t time.Time) int {
	t = t.UTC()
	day := (int(t.Weekday()) + 6) % 7 // Monday = 0
	return day*24 + t.Hour()
}

func reason(c, worst StartRecommendation, d time.Duration, loc *time.Location) string {
	local := c.Start.In(loc)
	text := fmt.Sprintf("starting %s (%s) the run would occupy %s; over the last 30 days %.2f tasks ran on average in that window of the week",
		local.Format("Mon 15:04 MST"), c.Start.Format("15:04 UTC"), d.Round(time.Second), c.ExpectedLoad)
	if worst.ExpectedLoad > 0 {
		text += fmt.Sprintf(", against %.2f at the busiest start (%s)", worst.ExpectedLoad, worst.Start.In(loc).Format("Mon 15:04 MST"))
	}
	return text
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
