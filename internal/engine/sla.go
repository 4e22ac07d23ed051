package engine

import (
	"context"
	"fmt"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// SLAs and priority overrides. The SLA check and both overrides are single
// PostgreSQL functions (baton.check_slas, baton.set_run_priority,
// baton.set_task_priority), so SQL users get the same behaviour and each
// change, its River job updates and its event commit together.

// Default bounds of one SLA check.
const (
	// DefaultSLAHistory is how many of a workflow's latest finished runs
	// give the median step durations of a projection.
	DefaultSLAHistory = 20
	// DefaultSLAMaxRuns is how many open runs one check reads at most
	// (nearest deadline first).
	DefaultSLAMaxRuns = 1000
)

// SLACheckResult counts what one SLA check did.
type SLACheckResult struct {
	// AtRisk is the number of runs escalated (or, already at priority 1,
	// reported) with an sla_at_risk event.
	AtRisk int
	// Violated is the number of runs that missed their deadline (one
	// sla_violated event each).
	Violated int
	// Settled is the number of runs closed within their deadline.
	Settled int
}

// CheckSLAs runs one SLA check (baton.check_slas): it projects the finish of
// open runs from the median durations of their remaining steps over the
// workflow's last history finished runs, escalates those projected to miss
// their deadline by one priority level, and reports missed deadlines once.
// history and maxRuns of 0 take the defaults.
func (e *Engine) CheckSLAs(ctx context.Context, history, maxRuns int) (SLACheckResult, error) {
	if history <= 0 {
		history = DefaultSLAHistory
	}
	if maxRuns <= 0 {
		maxRuns = DefaultSLAMaxRuns
	}
	row, err := e.queries.SLACheck(ctx, e.pool, &dbsqlc.SLACheckParams{History: int32(min(history, 200)), MaxRuns: int32(min(maxRuns, 10000))})
	if err != nil {
		return SLACheckResult{}, translateError(err, "check SLAs")
	}
	return SLACheckResult{AtRisk: int(row.AtRisk), Violated: int(row.Violated), Settled: int(row.Settled)}, nil
}

// checkPriority rejects a priority outside 1..4 before asking the database.
func checkPriority(priority int) error {
	if priority < specMinPriority || priority > specMaxPriority {
		return &ValidationError{Problems: []Problem{{Field: "priority", Message: fmt.Sprintf("must be between %d (high) and %d (background), got %d", specMinPriority, specMaxPriority, priority)}}}
	}
	return nil
}

// SetRunPriority overrides the priority of an unfinished run, its
// unfinished tasks and their waiting River jobs (updated in place), and
// records the change with the actor (event run_priority_changed). It
// returns the number of River jobs updated; a finished run is ErrConflict.
func (e *Engine) SetRunPriority(ctx context.Context, id int64, priority int, actor string) (int, error) {
	if err := checkPriority(priority); err != nil {
		return 0, err
	}
	n, err := e.queries.RunSetPriority(ctx, e.pool, &dbsqlc.RunSetPriorityParams{ID: id, Priority: int32(priority), Actor: actorOrDefault(actor)})
	if err != nil {
		return 0, translateError(err, fmt.Sprintf("set the priority of run %d", id))
	}
	return int(n), nil
}

// SetTaskPriority overrides the priority of one unfinished task and of its
// waiting River job, and records the change with the actor (event
// task_priority_changed). It returns the number of River jobs updated; a
// finished task or run is ErrConflict.
func (e *Engine) SetTaskPriority(ctx context.Context, taskID int64, priority int, actor string) (int, error) {
	if err := checkPriority(priority); err != nil {
		return 0, err
	}
	n, err := e.queries.TaskSetPriority(ctx, e.pool, &dbsqlc.TaskSetPriorityParams{ID: taskID, Priority: int32(priority), Actor: actorOrDefault(actor)})
	if err != nil {
		return 0, translateError(err, fmt.Sprintf("set the priority of task %d", taskID))
	}
	return int(n), nil
}
