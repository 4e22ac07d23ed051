package schedule

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones even on hosts without a zoneinfo database

	"github.com/robfig/cron/v3"
)

// maxShift bounds the change of a zone's UTC offset at one transition; the
// daylight-saving handling looks this far around a transition.
const maxShift = 3 * time.Hour

// starBit is robfig/cron's marker of a field written as "*".
const starBit = 1 << 63

// Expr is a cron expression read in a time zone. Its fire times are
// computed on the zone's wall clock and then mapped to instants, with this
// rule at daylight-saving transitions:
//
//   - Expressions whose hour field is "*" follow real time: a wall-clock
//     time that does not exist (the spring-forward gap) has no fire, and
//     one that happens twice (the fall-back hour) fires twice. So
//     "0 * * * *" fires 23 times on a spring-forward day and 25 times on a
//     fall-back day.
//   - Expressions with a fixed hour fire once per wall-clock time: a time in
//     the gap fires once, at the first instant after the gap (02:30 in
//     America/New_York on 2026-03-08 fires at 03:00 EDT, 07:00 UTC), and a
//     time in the repeated hour fires once, at its first occurrence (01:30
//     on 2026-11-01 fires at 01:30 EDT, 05:30 UTC).
//
// robfig/cron's own Next, run in a zone, skips gap times and can fire a
// repeated hour twice; Expr evaluates robfig's schedule on a zone-free
// (UTC) copy of the wall clock and does the mapping itself.
type Expr struct {
	spec      *cron.SpecSchedule // on wall-clock times encoded as UTC
	every     time.Duration      // @every: fires at multiples of it since the Unix epoch
	loc       *time.Location
	fixedHour bool
}

// FieldError is an error about one field of a schedule.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// ParseExpr parses a cron expression (5 fields, or 6 with seconds first, or
// a descriptor: @yearly, @monthly, @weekly, @daily, @midnight, @hourly,
// @every DURATION) in the IANA zone (empty: UTC).
func ParseExpr(expr, zone string) (*Expr, error) {
	loc, err := LoadZone(zone)
	if err != nil {
		return nil, err
	}
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return nil, &FieldError{"cron", "must not be empty"}
	}
	if len(expr) > 200 {
		return nil, &FieldError{"cron", "must be at most 200 characters"}
	}
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return nil, &FieldError{"cron", "must not carry a time zone; use time_zone"}
	}
	if rest, ok := strings.CutPrefix(expr, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil || d < time.Second || d > 366*24*time.Hour || d%time.Second != 0 {
			return nil, &FieldError{"cron", "@every needs a whole number of seconds between 1s and 8784h, such as @every 15m"}
		}
	}
	parser := cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	sched, err := parser.Parse(expr)
	if err != nil {
		return nil, &FieldError{"cron", err.Error()}
	}
	e := &Expr{loc: loc}
	switch s := sched.(type) {
	case *cron.SpecSchedule:
		s.Location = time.UTC
		e.spec = s
		e.fixedHour = s.Hour&starBit == 0
	case cron.ConstantDelaySchedule:
		if s.Delay < time.Second {
			return nil, &FieldError{"cron", "@every must be at least 1s"}
		}
		e.every = s.Delay
	default:
		return nil, &FieldError{"cron", fmt.Sprintf("unsupported schedule %T", sched)}
	}
	return e, nil
}

// LoadZone loads an IANA time zone; empty means UTC. "Local" is refused:
// a schedule must not depend on the host's zone.
func LoadZone(zone string) (*time.Location, error) {
	if zone == "" || zone == "UTC" {
		return time.UTC, nil
	}
	if zone == "Local" || len(zone) > 64 {
		return nil, &FieldError{"time_zone", fmt.Sprintf("unknown time zone %q", zone)}
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, &FieldError{"time_zone", fmt.Sprintf("unknown time zone %q", zone)}
	}
	return loc, nil
}

// Location is the expression's zone.
func (e *Expr) Location() *time.Location { return e.loc }

// Next returns the first fire time strictly after t, or the zero time when
// there is none within five years.
func (e *Expr) Next(t time.Time) time.Time {
	if e.every > 0 {
		d := int64(e.every / time.Second)
		return time.Unix((floorDiv(t.Unix(), d)+1)*d, 0).UTC()
	}
	t = t.In(e.loc)
	c0 := wallClock(t)
	c := e.spec.Next(c0)
	if c.IsZero() {
		return time.Time{}
	}
	// Fast path: no offset change within maxShift of t and of the candidate,
	// so wall clock and instants are one shift apart.
	start, end := t.ZoneBounds()
	_, off := t.Zone()
	i := c.Add(-time.Duration(off) * time.Second)
	if (start.IsZero() || !start.After(t.Add(-maxShift))) && (end.IsZero() || end.After(i.Add(maxShift))) {
		return i.UTC()
	}
	// Near a transition: look at every wall-clock candidate from maxShift
	// before t and keep the earliest instant after t.
	var best time.Time
	c = e.spec.Next(c0.Add(-maxShift - time.Second))
	for n := 0; !c.IsZero() && n < 1_000_000; n++ {
		for _, inst := range e.instants(c) {
			if inst.After(t) && (best.IsZero() || inst.Before(best)) {
				best = inst
			}
		}
		if !best.IsZero() && c.Sub(wallClock(best.In(e.loc))) > maxShift {
			break
		}
		c = e.spec.Next(c)
	}
	if best.IsZero() {
		return best
	}
	return best.UTC()
}

// Between returns the fire times in (after, until], at most limit of them
// (the earliest), and whether more were left out.
func (e *Expr) Between(after, until time.Time, limit int) ([]time.Time, bool) {
	var out []time.Time
	for f := e.Next(after); !f.IsZero() && !f.After(until); f = e.Next(f) {
		if len(out) == limit {
			return out, true
		}
		out = append(out, f)
	}
	return out, false
}

// instants maps a wall-clock time (encoded as UTC) to the instants it fires
// at, following the rule in Expr's doc comment.
func (e *Expr) instants(c time.Time) []time.Time {
	var valid, probes []time.Time
	seen := map[int]bool{}
	for k := -4; k <= 4; k++ {
		_, off := c.Add(time.Duration(k) * 6 * time.Hour).In(e.loc).Zone()
		if seen[off] {
			continue
		}
		seen[off] = true
		inst := c.Add(-time.Duration(off) * time.Second)
		probes = append(probes, inst)
		if wallClock(inst.In(e.loc)).Equal(c) {
			valid = append(valid, inst)
		}
	}
	switch {
	case len(valid) == 0: // in a gap
		if !e.fixedHour || len(probes) < 2 {
			return nil
		}
		latest := probes[0]
		for _, p := range probes[1:] {
			if p.After(latest) {
				latest = p
			}
		}
		gapEnd, _ := latest.In(e.loc).ZoneBounds()
		return []time.Time{gapEnd}
	case len(valid) > 1: // repeated
		if valid[1].Before(valid[0]) {
			valid[0], valid[1] = valid[1], valid[0]
		}
		if e.fixedHour {
			return valid[:1]
		}
		return valid[:2]
	}
	return valid
}

// wallClock returns t's wall-clock reading as a UTC time.
func wallClock(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Jitter returns the delay of the fire of schedule name at fire: a
// deterministic value in [0, max), the same on every node.
func Jitter(name string, fire time.Time, max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s@%d", name, fire.UnixNano())
	return time.Duration(h.Sum64() % uint64(max))
}

// errNever says an expression has no fire time.
var errNever = errors.New("never fires in the next five years")
