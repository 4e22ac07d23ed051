package analytics

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// errorGroup is one (class, normalized message) of the error distribution.
type errorGroup struct {
	class, message string
	occurrences    int64
	lastSeen       time.Time
	// raws are the group's distinct raw messages and when each was last seen.
	raws []rawError
}

type rawError struct {
	error    string
	lastSeen time.Time
}

// Errors reports the failed attempts (failed, dead or interrupted) of the
// window by error class, and the top limit normalized messages with
// examples.
//
// Two statements: AnalyticsErrorGroups counts the attempts per class and
// distinct raw message; the service normalizes each distinct message once
// (normalizeASCII; the database does the non-ASCII ones) and sums them per
// group; AnalyticsErrorTop orders the classes and the groups that can make
// the top limit (those at least as frequent as the limit-th), keeps limit of
// them and reads the examples of the raw messages that can hold the most
// recent ones. The figures are those of the single SQL definition
// (docs/analytics.md).
func (s *Service) Errors(ctx context.Context, f Filter, limit int) (*ErrorDistribution, error) {
	f, err := s.resolve(f, DefaultWindow)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxErrorMessages {
		limit = 20
	}
	// Both statements read one snapshot, as one statement would.
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, translate(err, "error messages")
	}
	defer func() { _ = tx.Rollback(ctx) }()
	db := customPlans{tx}
	raws, err := s.queries.AnalyticsErrorGroups(ctx, db, &dbsqlc.AnalyticsErrorGroupsParams{
		FromTime: f.From, ToTime: f.To, Workflow: f.Workflow, Owner: f.Owner, Tags: f.Tags, TaskType: f.TaskType,
	})
	if err != nil {
		return nil, translate(err, "error messages")
	}

	type key struct{ class, message string }
	groups := map[key]*errorGroup{}
	classes := map[string]int64{}
	var order []*errorGroup
	for _, r := range raws {
		message, ok := normalizeASCII(r.Error)
		if !ok {
			message = r.Message
		}
		classes[r.ErrorClass] += r.Occurrences
		g := groups[key{r.ErrorClass, message}]
		if g == nil {
			g = &errorGroup{class: r.ErrorClass, message: message}
			groups[key{r.ErrorClass, message}] = g
			order = append(order, g)
		}
		g.occurrences += r.Occurrences
		if r.LastSeen.After(g.lastSeen) {
			g.lastSeen = r.LastSeen
		}
		g.raws = append(g.raws, rawError{error: r.Error, lastSeen: r.LastSeen})
	}

	// The groups that can be in the top limit: at least as frequent as the
	// limit-th (ties are ordered by the database's collation).
	slices.SortFunc(order, func(a, b *errorGroup) int { return cmp.Compare(b.occurrences, a.occurrences) })
	if len(order) > limit {
		cut := order[limit-1].occurrences
		n := limit
		for n < len(order) && order[n].occurrences == cut {
			n++
		}
		order = order[:n]
	}
	p := &dbsqlc.AnalyticsErrorTopParams{
		MaxRows: int32(limit), Examples: errorExamples,
		FromTime: f.From, ToTime: f.To, Workflow: f.Workflow, Owner: f.Owner, Tags: f.Tags, TaskType: f.TaskType,
	}
	for i, g := range order {
		id := int32(i)
		p.GroupIds = append(p.GroupIds, id)
		p.GroupClasses = append(p.GroupClasses, g.class)
		p.GroupMessages = append(p.GroupMessages, g.message)
		p.GroupOccurrences = append(p.GroupOccurrences, g.occurrences)
		p.GroupLastSeen = append(p.GroupLastSeen, g.lastSeen)
		// The most recent examples are events of the raw messages last seen
		// latest: those ranked within the first errorExamples by last seen,
		// ties included (any other one's events are all older than those
		// messages' last events).
		slices.SortFunc(g.raws, func(a, b rawError) int { return b.lastSeen.Compare(a.lastSeen) })
		for k, r := range g.raws {
			if k >= errorExamples && r.lastSeen.Before(g.raws[errorExamples-1].lastSeen) {
				break
			}
			p.CandIds = append(p.CandIds, id)
			p.CandClasses = append(p.CandClasses, g.class)
			p.CandErrors = append(p.CandErrors, r.error)
		}
	}
	for class, n := range classes {
		p.ClassNames = append(p.ClassNames, class)
		p.ClassOccurrences = append(p.ClassOccurrences, n)
	}
	rows, err := s.queries.AnalyticsErrorTop(ctx, db, p)
	if err != nil {
		return nil, translate(err, "error messages")
	}
	out := &ErrorDistribution{Window: Window{f.From, f.To}, Classes: []ErrorClassCount{}, Messages: []ErrorMessage{}}
	for _, r := range rows {
		if r.Section == "class" {
			out.Classes = append(out.Classes, ErrorClassCount{ErrorClass: r.ErrorClass, Occurrences: r.Occurrences})
			continue
		}
		out.Messages = append(out.Messages, ErrorMessage{ErrorClass: r.ErrorClass, Message: r.Message, Occurrences: r.Occurrences,
			LastSeen: r.LastSeen.UTC(), Examples: r.Examples, ExampleRuns: r.ExampleRuns})
	}
	return out, nil
}
