package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/schedule"
)

const tagSchedules = "Schedules"

// ScheduleSpec is the body of create-schedule and update-schedule.
type ScheduleSpec struct {
	Kind        string     `json:"kind,omitempty" enum:"schedule" doc:"Optional; \"schedule\" when given, as in definition files."`
	Name        string     `json:"name,omitempty" maxLength:"128" example:"nightly-report" doc:"Identifies the schedule: lower-case letters and digits separated by single '-', '_' or '.'. In update-schedule it defaults to the path's name."`
	Workflow    string     `json:"workflow" maxLength:"200" example:"nightly-report" doc:"The workflow the schedule starts."`
	Cron        string     `json:"cron" maxLength:"200" example:"30 2 * * *" doc:"5-field cron expression, 6 fields with seconds first, or a descriptor: @hourly, @daily, @weekly, @monthly, @yearly, @every 15m."`
	TimeZone    string     `json:"time_zone,omitempty" maxLength:"64" example:"America/New_York" doc:"IANA time zone the expression is read in. Default UTC."`
	Input       JSONObject `json:"input,omitempty" doc:"Run input; strings may be templates of .schedule.fire_time (RFC 3339, UTC), .schedule.fire_time_local, .schedule.logical_date (YYYY-MM-DD in the zone), .schedule.name, .schedule.time_zone, .schedule.unix."`
	Description string     `json:"description,omitempty" maxLength:"2000"`
	Enabled     *bool      `json:"enabled,omitempty" doc:"Default true."`
	StartAt     *time.Time `json:"start_at,omitempty" doc:"No fire before this instant."`
	EndAt       *time.Time `json:"end_at,omitempty" doc:"No fire after this instant; must be after start_at."`
	Jitter      string     `json:"jitter,omitempty" maxLength:"32" example:"30s" doc:"Delays each fire by a deterministic amount in [0, jitter), at most 1h."`
	Overlap     string     `json:"overlap,omitempty" enum:"allow,skip,cancel_previous,queue" doc:"What a fire does while the previous run of the schedule is still going. Default allow."`
	Catchup     string     `json:"catchup,omitempty" enum:"none,latest,all" doc:"Fires missed (more than 1 minute late: downtime, disabled): none, latest (default), all."`
	MaxCatchup  *int       `json:"max_catchup,omitempty" minimum:"1" maximum:"10000" doc:"Bound of the late fires catchup all starts. Default 100."`
	Priority    *int       `json:"priority,omitempty" minimum:"1" maximum:"4" doc:"Overrides the workflow's priority for the runs."`
}

func (s *ScheduleSpec) spec() *engine.ScheduleSpec {
	return &engine.ScheduleSpec{
		Kind: s.Kind, Name: s.Name, Workflow: s.Workflow, Cron: s.Cron, TimeZone: s.TimeZone,
		Input: json.RawMessage(s.Input), Description: s.Description, Enabled: s.Enabled, StartAt: s.StartAt,
		EndAt: s.EndAt, Jitter: s.Jitter, Overlap: s.Overlap, Catchup: s.Catchup, MaxCatchup: s.MaxCatchup,
		Priority: s.Priority,
	}
}

// Schedule is a stored schedule.
type Schedule struct {
	Name        string     `json:"name"`
	Workflow    string     `json:"workflow"`
	Cron        string     `json:"cron"`
	TimeZone    string     `json:"time_zone"`
	Input       JSONObject `json:"input"`
	Description string     `json:"description"`
	Enabled     bool       `json:"enabled"`
	StartAt     *time.Time `json:"start_at"`
	EndAt       *time.Time `json:"end_at"`
	Jitter      string     `json:"jitter" example:"30s"`
	Overlap     string     `json:"overlap"`
	Catchup     string     `json:"catchup"`
	MaxCatchup  int        `json:"max_catchup"`
	Priority    *int       `json:"priority"`
	Cursor      time.Time  `json:"cursor" doc:"Fires at or before this instant are done (started, skipped, queued or missed)."`
	NextFire    *time.Time `json:"next_fire" doc:"The next fire time (UTC, before jitter); null when disabled or past end_at."`
	LastError   string     `json:"last_error" doc:"Why the last failed fire did not start; empty when it did."`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

func scheduleFrom(s *schedule.Schedule) Schedule {
	out := Schedule{
		Name: s.Name, Workflow: s.Workflow, Cron: s.Cron, TimeZone: s.TimeZone, Input: JSONObject(s.Input),
		Description: s.Description, Enabled: s.Enabled, StartAt: s.StartAt, EndAt: s.EndAt, Jitter: s.Jitter.String(),
		Overlap: s.Overlap, Catchup: s.Catchup, MaxCatchup: s.MaxCatchup, Cursor: s.Cursor, NextFire: utcPtr(s.NextFire),
		LastError: s.LastError, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
	}
	if s.Priority != 0 {
		p := s.Priority
		out.Priority = &p
	}
	return out
}

type scheduleNameInput struct {
	Name string `path:"name" maxLength:"128" doc:"The schedule's name."`
}

type scheduleCreateInput struct{ Body ScheduleSpec }

type scheduleUpdateInput struct {
	Name string `path:"name" maxLength:"128"`
	Body ScheduleSpec
}

type scheduleOutput struct{ Body Schedule }

// ScheduleList is the body of list-schedules.
type ScheduleList struct {
	Schedules []Schedule `json:"schedules"`
}

type scheduleListOutput struct{ Body ScheduleList }

// BackfillRequest is the body of backfill-schedule.
type BackfillRequest struct {
	From   time.Time `json:"from" doc:"First instant of the range (inclusive)."`
	To     time.Time `json:"to" doc:"Last instant of the range (inclusive); not in the future."`
	DryRun bool      `json:"dry_run,omitempty" doc:"List the fires without starting anything."`
}

type backfillInput struct {
	Name string `path:"name" maxLength:"128"`
	Body BackfillRequest
}

// BackfillFire is one fire time of a backfill.
type BackfillFire struct {
	FireTime time.Time `json:"fire_time"`
	Exists   bool      `json:"exists" doc:"Already recorded (started, skipped, queued or missed): left alone."`
	RunID    *int64    `json:"run_id" doc:"The run started for it; null in a dry run or when it exists."`
}

// BackfillResult is the body of backfill-schedule.
type BackfillResult struct {
	DryRun  bool           `json:"dry_run"`
	Started int            `json:"started"`
	Fires   []BackfillFire `json:"fires"`
}

type backfillOutput struct{ Body BackfillResult }

type historyInput struct {
	Name  string `path:"name" maxLength:"128"`
	Limit int    `query:"limit" minimum:"1" maximum:"1000" default:"50" doc:"Fires to return, newest first."`
}

// ScheduleFire is one entry of a schedule's history.
type ScheduleFire struct {
	FireTime   time.Time  `json:"fire_time" doc:"The nominal fire time."`
	DueAt      time.Time  `json:"due_at" doc:"The fire time plus its jitter."`
	Status     string     `json:"status" enum:"started,skipped,queued,missed"`
	Kind       string     `json:"kind" enum:"scheduled,catchup,backfill"`
	StartedAt  *time.Time `json:"started_at" doc:"When its run was started."`
	LatenessMs *int64     `json:"lateness_ms" doc:"started_at minus fire_time, in milliseconds."`
	RunID      *int64     `json:"run_id"`
	RunStatus  string     `json:"run_status" doc:"The run's current status; empty when no run started."`
}

// ScheduleHistory is the body of get-schedule-history.
type ScheduleHistory struct {
	Fires []ScheduleFire `json:"fires"`
}

type historyOutput struct{ Body ScheduleHistory }

type previewInput struct {
	Name string `path:"name" maxLength:"128"`
	N    int    `query:"n" minimum:"1" maximum:"100" default:"10" doc:"How many fire times."`
}

// PreviewFire is one upcoming fire.
type PreviewFire struct {
	Local time.Time `json:"local" doc:"The fire time in the schedule's zone."`
	UTC   time.Time `json:"utc" doc:"The same instant in UTC."`
	DueAt time.Time `json:"due_at" doc:"When it starts: the fire time plus its jitter (UTC)."`
}

// SchedulePreview is the body of preview-schedule.
type SchedulePreview struct {
	TimeZone string        `json:"time_zone"`
	Fires    []PreviewFire `json:"fires"`
}

type previewOutput struct{ Body SchedulePreview }

func registerSchedules(api huma.API, h *handlers) {
	huma.Register(api, huma.Operation{
		OperationID: "create-schedule", Method: http.MethodPost, Path: "/schedules",
		Summary:     "Create a schedule",
		Description: "Validates and stores a cron schedule. Its first fire is the first fire time after now. Problems answer 422 naming the field; an existing name answers 409.",
		Tags:        []string{tagSchedules}, DefaultStatus: http.StatusCreated,
		Errors: errorStatuses(http.StatusConflict, http.StatusUnprocessableEntity),
	}, h.createSchedule)
	huma.Register(api, huma.Operation{
		OperationID: "list-schedules", Method: http.MethodGet, Path: "/schedules",
		Summary: "List schedules", Tags: []string{tagSchedules}, Errors: errorStatuses(),
	}, h.listSchedules)
	huma.Register(api, huma.Operation{
		OperationID: "get-schedule", Method: http.MethodGet, Path: "/schedules/{name}",
		Summary: "Get a schedule", Tags: []string{tagSchedules},
		Errors: errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.getSchedule)
	huma.Register(api, huma.Operation{
		OperationID: "update-schedule", Method: http.MethodPut, Path: "/schedules/{name}",
		Summary:     "Replace a schedule's settings",
		Description: "Its fire history and cursor are kept; a change of cron or time_zone moves the cursor to now, so the time before the change does not count as missed.",
		Tags:        []string{tagSchedules},
		Errors:      errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.updateSchedule)
	huma.Register(api, huma.Operation{
		OperationID: "delete-schedule", Method: http.MethodDelete, Path: "/schedules/{name}",
		Summary: "Delete a schedule and its fire history", Description: "Runs it started stay.",
		Tags: []string{tagSchedules}, DefaultStatus: http.StatusNoContent,
		Errors: errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.deleteSchedule)
	huma.Register(api, huma.Operation{
		OperationID: "enable-schedule", Method: http.MethodPost, Path: "/schedules/{name}/enable",
		Summary:     "Enable a schedule",
		Description: "Fires missed while it was disabled follow its catch-up policy.",
		Tags:        []string{tagSchedules},
		Errors:      errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.enableSchedule)
	huma.Register(api, huma.Operation{
		OperationID: "disable-schedule", Method: http.MethodPost, Path: "/schedules/{name}/disable",
		Summary: "Disable a schedule", Tags: []string{tagSchedules},
		Errors: errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.disableSchedule)
	huma.Register(api, huma.Operation{
		OperationID: "backfill-schedule", Method: http.MethodPost, Path: "/schedules/{name}/backfill",
		Summary:     "Start the runs of a past time range",
		Description: "Starts a run for every fire time in [from, to] not already recorded (at most 1000; to not in the future), ignoring the overlap policy and jitter, in one transaction. With dry_run it lists them and starts nothing. Running it twice starts nothing twice.",
		Tags:        []string{tagSchedules},
		Errors:      errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.backfillSchedule)
	huma.Register(api, huma.Operation{
		OperationID: "get-schedule-history", Method: http.MethodGet, Path: "/schedules/{name}/history",
		Summary: "A schedule's fires, newest first", Description: "Fire time, due time, actual start, lateness, run id and run status.",
		Tags: []string{tagSchedules}, Errors: errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.scheduleHistory)
	huma.Register(api, huma.Operation{
		OperationID: "preview-schedule", Method: http.MethodGet, Path: "/schedules/{name}/preview",
		Summary: "The next fire times", Description: "The next n fire times, in the schedule's zone and in UTC, within its start and end dates.",
		Tags: []string{tagSchedules}, Errors: errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.previewSchedule)
}

func (h *handlers) createSchedule(ctx context.Context, in *scheduleCreateInput) (*scheduleOutput, error) {
	s, err := h.schedules.Create(ctx, in.Body.spec())
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &scheduleOutput{Body: scheduleFrom(s)}, nil
}

func (h *handlers) listSchedules(ctx context.Context, _ *struct{}) (*scheduleListOutput, error) {
	list, err := h.schedules.List(ctx)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &scheduleListOutput{Body: ScheduleList{Schedules: make([]Schedule, len(list))}}
	for i, s := range list {
		out.Body.Schedules[i] = scheduleFrom(s)
	}
	return out, nil
}

func (h *handlers) getSchedule(ctx context.Context, in *scheduleNameInput) (*scheduleOutput, error) {
	s, err := h.schedules.Get(ctx, in.Name)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &scheduleOutput{Body: scheduleFrom(s)}, nil
}

func (h *handlers) updateSchedule(ctx context.Context, in *scheduleUpdateInput) (*scheduleOutput, error) {
	if in.Body.Name != "" && in.Body.Name != in.Name {
		return nil, huma.Error422UnprocessableEntity("the body's name differs from the path's",
			&huma.ErrorDetail{Location: "body.name", Message: "must be the path's name or empty", Value: in.Body.Name})
	}
	in.Body.Name = in.Name
	s, err := h.schedules.Update(ctx, in.Body.spec())
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &scheduleOutput{Body: scheduleFrom(s)}, nil
}

func (h *handlers) deleteSchedule(ctx context.Context, in *scheduleNameInput) (*struct{}, error) {
	if err := h.schedules.Delete(ctx, in.Name); err != nil {
		return nil, h.problem(ctx, err)
	}
	return nil, nil
}

func (h *handlers) enableSchedule(ctx context.Context, in *scheduleNameInput) (*scheduleOutput, error) {
	return h.setScheduleEnabled(ctx, in.Name, true)
}

func (h *handlers) disableSchedule(ctx context.Context, in *scheduleNameInput) (*scheduleOutput, error) {
	return h.setScheduleEnabled(ctx, in.Name, false)
}

func (h *handlers) setScheduleEnabled(ctx context.Context, name string, enabled bool) (*scheduleOutput, error) {
	if _, err := h.schedules.SetEnabled(ctx, name, enabled); err != nil {
		return nil, h.problem(ctx, err)
	}
	return h.getSchedule(ctx, &scheduleNameInput{Name: name})
}

func (h *handlers) backfillSchedule(ctx context.Context, in *backfillInput) (*backfillOutput, error) {
	fires, err := h.schedules.Backfill(ctx, in.Name, in.Body.From, in.Body.To, in.Body.DryRun)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &backfillOutput{Body: BackfillResult{DryRun: in.Body.DryRun, Fires: make([]BackfillFire, len(fires))}}
	for i, f := range fires {
		out.Body.Fires[i] = BackfillFire{FireTime: f.FireTime.UTC(), Exists: f.Exists, RunID: f.RunID}
		if f.RunID != nil {
			out.Body.Started++
		}
	}
	return out, nil
}

func (h *handlers) scheduleHistory(ctx context.Context, in *historyInput) (*historyOutput, error) {
	entries, err := h.schedules.History(ctx, in.Name, in.Limit)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &historyOutput{Body: ScheduleHistory{Fires: make([]ScheduleFire, len(entries))}}
	for i, e := range entries {
		f := ScheduleFire{FireTime: e.FireTime, DueAt: e.Due, Status: e.Status, Kind: e.Kind, StartedAt: e.StartedAt,
			RunID: e.RunID, RunStatus: e.RunStatus}
		if e.Lateness != nil {
			ms := e.Lateness.Milliseconds()
			f.LatenessMs = &ms
		}
		out.Body.Fires[i] = f
	}
	return out, nil
}

func (h *handlers) previewSchedule(ctx context.Context, in *previewInput) (*previewOutput, error) {
	sched, err := h.schedules.Get(ctx, in.Name)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	fires, err := h.schedules.Preview(ctx, in.Name, in.N)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &previewOutput{Body: SchedulePreview{TimeZone: sched.TimeZone, Fires: make([]PreviewFire, len(fires))}}
	for i, f := range fires {
		out.Body.Fires[i] = PreviewFire{Local: f.FireTime, UTC: f.FireTime.UTC(), DueAt: f.Due.UTC()}
	}
	return out, nil
}
