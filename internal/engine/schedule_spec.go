package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// specKindSchedule is the kind of a cron schedule definition.
const specKindSchedule = "schedule"

// ScheduleSpec is a cron schedule as written in YAML or JSON (kind:
// schedule). ParseSpec checks its shape; package schedule validates and
// stores it.
type ScheduleSpec struct {
	// Kind is "schedule" (optional in JSON bodies that can only hold a schedule).
	Kind string `json:"kind,omitempty" enum:"schedule"`

	// Name identifies the schedule.
	Name string `json:"name"`

	// Workflow is the name of the workflow the schedule starts.
	Workflow string `json:"workflow" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$"`

	// Cron is a 5-field cron expression, a 6-field one starting with
	// seconds, or a descriptor (@hourly, @daily, @weekly, @monthly,
	// @yearly, @every 15m).
	Cron string `json:"cron" minLength:"1"`

	// TimeZone is the IANA zone the expression is read in (default UTC).
	TimeZone string `json:"time_zone,omitempty"`

	// Input is the run input, a JSON object whose strings may be templates
	// of .schedule.fire_time, .schedule.logical_date, .schedule.name ...
	Input json.RawMessage `json:"input,omitempty"`

	// Description is free text for people.
	Description string `json:"description,omitempty"`

	// Enabled defaults to true.
	Enabled *bool `json:"enabled,omitempty"`

	// StartAt and EndAt bound the fire times (inclusive); unset: unbounded.
	StartAt *time.Time `json:"start_at,omitempty"`
	EndAt   *time.Time `json:"end_at,omitempty"`

	// Jitter delays each fire by a deterministic amount in [0, Jitter), a
	// Go duration of at most 1h (default none).
	Jitter string `json:"jitter,omitempty" pattern:"^(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$"`

	// Overlap is allow (default), skip, cancel_previous or queue.
	Overlap string `json:"overlap,omitempty" enum:"allow,skip,cancel_previous,queue"`

	// Catchup is none, latest (default) or all.
	Catchup string `json:"catchup,omitempty" enum:"none,latest,all"`

	// MaxCatchup bounds the late fires started by catchup all (default 100).
	MaxCatchup *int `json:"max_catchup,omitempty" minimum:"1" maximum:"10000"`

	// Priority overrides the workflow's priority (1 high .. 4 background).
	Priority *int `json:"priority,omitempty" minimum:"1" maximum:"4"`
}

// RenderTemplateJSON renders every template string of value (a JSON
// document) the way RenderParams renders params, with data as the template's
// root (so data["schedule"] is .schedule). Errors name the value as path,
// as in `input.day: template: ...`.
func RenderTemplateJSON(ctx context.Context, value json.RawMessage, path string, data map[string]any) (json.RawMessage, error) {
	if specIsNull(value) {
		return value, nil
	}
	decoded, err := tmplDecodeJSON(value)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %w", path, err)
	}
	root, err := tmplNormalize(data)
	if err != nil {
		return nil, fmt.Errorf("%s: template data: %w", path, err)
	}
	rootMap, _ := root.(map[string]any)
	ctx, cancel := context.WithTimeoutCause(ctx, tmplMaxDuration,
		&tmplGuardError{msg: fmt.Sprintf("template rendering exceeds %s", tmplMaxDuration)})
	defer cancel()
	r := &tmplRenderer{data: rootMap, budget: newTmplBudget(ctx)}
	r.funcs = tmplFuncs(r.budget, func(v any) { r.captured = v })
	rendered, err := r.render(decoded, path)
	if err != nil {
		return nil, err
	}
	out, err := specMarshal(rendered)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}
