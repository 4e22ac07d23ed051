package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/auth"
	"github.com/baton-run/baton/internal/trigger"
)

const (
	tagEvents   = "Events"
	tagTriggers = "Triggers"
)

// EventRequest is the body of emit-event.
type EventRequest struct {
	Type     string     `json:"type" minLength:"1" maxLength:"200" pattern:"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$" doc:"The event's type, such as order.created; triggers of this type see it." example:"order.created"`
	Payload  JSONObject `json:"payload,omitempty" doc:"The event's payload, a JSON object (at most 1 MB, 64 levels deep)."`
	DedupKey string     `json:"dedup_key,omitempty" maxLength:"200" doc:"A second event of the type with this key within the dedup window (24 h unless a trigger of the type sets a longer one) is a duplicate: the answer is the first event and nothing starts."`
	Source   string     `json:"source,omitempty" maxLength:"100" doc:"Where the event comes from (default api)."`
}

// InboundEvent is a stored inbound event.
type InboundEvent struct {
	ID       int64      `json:"id"`
	Time     time.Time  `json:"time"`
	Type     string     `json:"type"`
	Source   string     `json:"source"`
	DedupKey string     `json:"dedup_key,omitempty"`
	Payload  JSONObject `json:"payload"`
}

// TriggeredRun is a run a trigger started, or would start in a dry run.
type TriggeredRun struct {
	EventID  int64      `json:"event_id"`
	Trigger  string     `json:"trigger"`
	Workflow string     `json:"workflow"`
	RunID    int64      `json:"run_id,omitempty" doc:"The run's id; absent in a dry run."`
	Input    JSONObject `json:"input" doc:"The run's input, rendered from the event."`
}

// SkippedTrigger is a matching trigger whose input template failed on the event.
type SkippedTrigger struct {
	EventID int64  `json:"event_id"`
	Trigger string `json:"trigger"`
	Reason  string `json:"reason"`
}

// EmitResult is the answer of emit-event and of an inbound webhook.
type EmitResult struct {
	Event     InboundEvent     `json:"event"`
	Duplicate bool             `json:"duplicate" doc:"True when the dedup key matched an earlier event: event is that one and nothing started."`
	Runs      []TriggeredRun   `json:"runs"`
	Skipped   []SkippedTrigger `json:"skipped,omitempty"`
}

// ReplayRequest is the body of replay-events.
type ReplayRequest struct {
	From   time.Time `json:"from" doc:"Start of the range (inclusive)."`
	To     time.Time `json:"to" doc:"End of the range (exclusive); at most 31 days after from."`
	Type   string    `json:"type,omitempty" maxLength:"200" doc:"Replay only events of this type."`
	DryRun bool      `json:"dry_run,omitempty" doc:"List the runs that would start without starting them."`
}

// ReplayResult is the answer of replay-events.
type ReplayResult struct {
	Events    int              `json:"events" doc:"Events read in the range."`
	DryRun    bool             `json:"dry_run"`
	Runs      []TriggeredRun   `json:"runs"`
	Skipped   []SkippedTrigger `json:"skipped,omitempty"`
	Truncated bool             `json:"truncated" doc:"True when the range holds more than 1000 events; replay again from next_from."`
	NextFrom  *time.Time       `json:"next_from,omitempty"`
}

// InboundEventList is the body of list-events.
type InboundEventList struct {
	Events []InboundEvent `json:"events"`
}

// TriggerRequest creates or replaces a trigger.
type TriggerRequest struct {
	Name          string     `json:"name" minLength:"1" maxLength:"100" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$"`
	EventType     string     `json:"event_type" minLength:"1" maxLength:"200" pattern:"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$" doc:"The type of events this trigger listens to; run.succeeded, run.failed and run.cancelled are Baton's own run ends."`
	Condition     string     `json:"condition,omitempty" maxLength:"2000" doc:"A PostgreSQL SQL/JSON path predicate on the payload, such as $.action == \"opened\" && $.count > 2 (see docs/triggers.md); empty always holds."`
	Workflow      string     `json:"workflow" minLength:"1" maxLength:"100" doc:"The workflow to start (its latest version)."`
	InputTemplate JSONObject `json:"input_template,omitempty" doc:"The run input as a JSON object whose strings may be templates over .event (id, type, source, time, dedup_key, payload) and .payload; absent: the payload is the input."`
	DedupWindow   *int       `json:"dedup_window_seconds,omitempty" minimum:"0" maximum:"2592000" doc:"How long a dedup key is remembered for events of this type (default 86400)."`
	Enabled       *bool      `json:"enabled,omitempty" doc:"Default true."`
	Secret        *string    `json:"secret,omitempty" maxLength:"200" doc:"The webhook signing secret (16 to 200 characters; whsec_BASE64 for Standard Webhooks): POST /v1/hooks/{name} must then be signed. Stored sealed, never returned. On update, absent keeps it and empty removes it."`
	Description   string     `json:"description,omitempty" maxLength:"1000"`
}

// Trigger is a trigger as stored.
type Trigger struct {
	Name               string     `json:"name"`
	EventType          string     `json:"event_type"`
	Condition          string     `json:"condition,omitempty"`
	Workflow           string     `json:"workflow"`
	InputTemplate      JSONObject `json:"input_template,omitempty"`
	DedupWindowSeconds int        `json:"dedup_window_seconds"`
	Enabled            bool       `json:"enabled"`
	HasSecret          bool       `json:"has_secret" doc:"Whether webhooks must be signed."`
	Description        string     `json:"description"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
}

// TriggerList is the body of list-triggers.
type TriggerList struct {
	Triggers []Trigger `json:"triggers"`
}

type emitEventInput struct{ Body EventRequest }
type emitResultOutput struct {
	Status int
	Body   EmitResult
}
type replayInput struct{ Body ReplayRequest }
type replayOutput struct{ Body ReplayResult }
type listEventsInput struct {
	From  time.Time `query:"from" doc:"Start of the range (default 24 hours ago)."`
	To    time.Time `query:"to" doc:"End of the range (default now); at most 31 days after from."`
	Type  string    `query:"type" maxLength:"200"`
	Limit int       `query:"limit" minimum:"1" maximum:"1000" default:"100"`
}
type listEventsOutput struct{ Body InboundEventList }
type triggerNameInput struct {
	Name string `path:"name" maxLength:"100" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$"`
}
type createTriggerInput struct{ Body TriggerRequest }
type updateTriggerInput struct {
	Name string `path:"name" maxLength:"100" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$"`
	Body TriggerRequest
}
type triggerOutput struct{ Body Trigger }
type triggerListOutput struct{ Body TriggerList }

type hookInput struct {
	Name             string `path:"name" maxLength:"100" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$" doc:"The trigger's name."`
	WebhookID        string `header:"webhook-id" maxLength:"200" doc:"Standard Webhooks message id; also the dedup key."`
	WebhookTimestamp string `header:"webhook-timestamp" maxLength:"20" doc:"Standard Webhooks timestamp (Unix seconds), within 5 minutes of the server's clock."`
	WebhookSignature string `header:"webhook-signature" maxLength:"2000" doc:"Standard Webhooks signatures: v1,BASE64 (HMAC-SHA256 of id.timestamp.body), space-separated."`
	HubSignature     string `header:"X-Hub-Signature-256" maxLength:"200" doc:"GitHub's signature: sha256=HEX (HMAC-SHA256 of the body)."`
	GitHubDelivery   string `header:"X-GitHub-Delivery" maxLength:"200" doc:"GitHub's delivery id; the dedup key when webhook-id is absent."`
	RawBody          []byte
}

func registerTriggers(api huma.API, h *handlers) {
	huma.Register(api, huma.Operation{
		OperationID: "emit-event", Method: http.MethodPost, Path: "/events", Summary: "Emit an event",
		Description: "Stores the event and, in the same transaction, starts a run for each enabled trigger of its type whose condition holds (the run's trigger is event, its trigger_ref the event id). A duplicate (same type and dedup_key within the window) answers 200 with the first event, duplicate true, and starts nothing; a new event answers 201.",
		Tags:        []string{tagEvents}, DefaultStatus: http.StatusCreated, MaxBodyBytes: 1<<20 + 64<<10,
		Responses: alsoOK("A duplicate: the first event, nothing started.", "EmitResult"),
		Errors:    errorStatuses(http.StatusUnprocessableEntity),
	}, h.emitEvent)
	huma.Register(api, huma.Operation{
		OperationID: "list-events", Method: http.MethodGet, Path: "/events", Summary: "List events",
		Description: "Stored events in a time range, oldest first.", Tags: []string{tagEvents},
		Errors: errorStatuses(http.StatusUnprocessableEntity),
	}, h.listEvents)
	huma.Register(api, huma.Operation{
		OperationID: "replay-events", Method: http.MethodPost, Path: "/events/replay", Summary: "Replay events",
		Description: "Hands the stored events of [from, to) (at most 31 days, 1000 events) to the triggers as they are now and starts the runs again, all in one transaction; with dry_run, lists what would start.",
		Tags:        []string{tagEvents}, Errors: errorStatuses(http.StatusUnprocessableEntity),
	}, h.replayEvents)
	huma.Register(api, huma.Operation{
		OperationID: "inbound-webhook", Method: http.MethodPost, Path: "/hooks/{name}", Summary: "Receive a webhook",
		Description: "Stores the JSON body as an event of the trigger's type (source webhook:NAME) and starts the runs it matches, like emit-event. When the trigger has a secret the request must be signed, per Standard Webhooks (webhook-id, webhook-timestamp within 5 minutes, webhook-signature) or GitHub (X-Hub-Signature-256); otherwise 401 and nothing is stored.",
		Tags:        []string{tagTriggers}, DefaultStatus: http.StatusCreated, MaxBodyBytes: 1 << 20,
		RequestBody: &huma.RequestBody{Required: true, Description: "The webhook's JSON object, verbatim (the signature covers these bytes).",
			Content: map[string]*huma.MediaType{"application/json": {Schema: &huma.Schema{Type: huma.TypeObject, AdditionalProperties: true}}}},
		Responses: alsoOK("A redelivery (same webhook-id or X-GitHub-Delivery): the first event, nothing started.", "EmitResult"),
		Errors:    errorStatuses(http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.inboundWebhook)
	huma.Register(api, huma.Operation{
		OperationID: "create-trigger", Method: http.MethodPost, Path: "/triggers", Summary: "Create a trigger",
		Tags: []string{tagTriggers}, DefaultStatus: http.StatusCreated,
		Errors: errorStatuses(http.StatusConflict, http.StatusUnprocessableEntity),
	}, h.createTrigger)
	huma.Register(api, huma.Operation{
		OperationID: "list-triggers", Method: http.MethodGet, Path: "/triggers", Summary: "List triggers",
		Tags: []string{tagTriggers}, Errors: errorStatuses(),
	}, h.listTriggers)
	huma.Register(api, huma.Operation{
		OperationID: "get-trigger", Method: http.MethodGet, Path: "/triggers/{name}", Summary: "Get a trigger",
		Tags: []string{tagTriggers}, Errors: errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.getTrigger)
	huma.Register(api, huma.Operation{
		OperationID: "update-trigger", Method: http.MethodPut, Path: "/triggers/{name}", Summary: "Update a trigger",
		Description: "Replaces the trigger's settings; the name in the body must match the path. An absent secret is kept.",
		Tags:        []string{tagTriggers}, Errors: errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.updateTrigger)
	huma.Register(api, huma.Operation{
		OperationID: "delete-trigger", Method: http.MethodDelete, Path: "/triggers/{name}", Summary: "Delete a trigger",
		Tags: []string{tagTriggers}, DefaultStatus: http.StatusNoContent,
		Errors: errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.deleteTrigger)
}

// triggerService returns the trigger service, or a 503 when the server
// runs without it.
func (h *handlers) triggerService() (*trigger.Service, error) {
	if h.triggers == nil {
		return nil, unavailable("triggers are not configured on this server")
	}
	return h.triggers, nil
}

func (h *handlers) emitEvent(ctx context.Context, in *emitEventInput) (*emitResultOutput, error) {
	svc, err := h.triggerService()
	if err != nil {
		return nil, err
	}
	res, err := svc.Emit(ctx, trigger.EventParams{Type: in.Body.Type, Payload: in.Body.Payload.raw(), DedupKey: in.Body.DedupKey, Source: in.Body.Source})
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return emitOutput(res), nil
}

// emitOutput answers 201 for a new event, 200 for a duplicate.
func emitOutput(res *trigger.EmitResult) *emitResultOutput {
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	}
	return &emitResultOutput{Status: status, Body: emitResultBody(res)}
}

func emitResultBody(res *trigger.EmitResult) EmitResult {
	return EmitResult{Event: eventBody(res.Event), Duplicate: res.Duplicate, Runs: runsBody(res.Runs), Skipped: skippedBody(res.Skipped)}
}

func eventBody(e trigger.Event) InboundEvent {
	return InboundEvent{ID: e.ID, Time: e.Time.UTC(), Type: e.Type, Source: e.Source, DedupKey: e.DedupKey, Payload: JSONObject(e.Payload)}
}

func runsBody(runs []trigger.StartedRun) []TriggeredRun {
	out := make([]TriggeredRun, len(runs))
	for i, r := range runs {
		out[i] = TriggeredRun{EventID: r.EventID, Trigger: r.Trigger, Workflow: r.Workflow, RunID: r.RunID, Input: JSONObject(r.Input)}
	}
	return out
}

func skippedBody(skipped []trigger.Skipped) []SkippedTrigger {
	if len(skipped) == 0 {
		return nil
	}
	out := make([]SkippedTrigger, len(skipped))
	for i, s := range skipped {
		out[i] = SkippedTrigger{EventID: s.EventID, Trigger: s.Trigger, Reason: s.Reason}
	}
	return out
}

func (h *handlers) listEvents(ctx context.Context, in *listEventsInput) (*listEventsOutput, error) {
	svc, err := h.triggerService()
	if err != nil {
		return nil, err
	}
	to, from := in.To, in.From
	if to.IsZero() {
		to = time.Now()
	}
	if from.IsZero() {
		from = to.Add(-24 * time.Hour)
	}
	switch {
	case !to.After(from):
		return nil, huma.Error422UnprocessableEntity("to must be after from", &huma.ErrorDetail{Location: "query.to", Message: "must be after from"})
	case to.Sub(from) > trigger.MaxReplayRange:
		return nil, huma.Error422UnprocessableEntity("the range must be at most 31 days", &huma.ErrorDetail{Location: "query.to", Message: "must be at most 31 days after from"})
	}
	events, err := svc.ListEvents(ctx, from, to, in.Type, in.Limit)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &listEventsOutput{Body: InboundEventList{Events: make([]InboundEvent, len(events))}}
	for i, e := range events {
		out.Body.Events[i] = eventBody(e)
	}
	return out, nil
}

func (h *handlers) replayEvents(ctx context.Context, in *replayInput) (*replayOutput, error) {
	svc, err := h.triggerService()
	if err != nil {
		return nil, err
	}
	res, err := svc.Replay(ctx, trigger.ReplayParams{From: in.Body.From, To: in.Body.To, Type: in.Body.Type, DryRun: in.Body.DryRun})
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &replayOutput{Body: ReplayResult{Events: res.Events, DryRun: in.Body.DryRun, Runs: runsBody(res.Runs),
		Skipped: skippedBody(res.Skipped), Truncated: res.Truncated, NextFrom: res.NextFrom}}, nil
}

func (h *handlers) inboundWebhook(ctx context.Context, in *hookInput) (*emitResultOutput, error) {
	svc, err := h.triggerService()
	if err != nil {
		return nil, err
	}
	if c := callerFrom(ctx); c != nil && !c.role.Allows(auth.RoleOperator) {
		// Only a trigger's secret lets a caller without a key in.
		t, err := svc.Get(ctx, in.Name)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		if !t.HasSecret {
			if err := requireRole(ctx, auth.RoleOperator, "a webhook to a trigger without a secret"); err != nil {
				return nil, err
			}
		}
	}
	header := http.Header{}
	for k, v := range map[string]string{
		"webhook-id": in.WebhookID, "webhook-timestamp": in.WebhookTimestamp, "webhook-signature": in.WebhookSignature,
		"X-Hub-Signature-256": in.HubSignature, "X-GitHub-Delivery": in.GitHubDelivery,
	} {
		if v != "" {
			header.Set(k, v)
		}
	}
	res, err := svc.Hook(ctx, in.Name, header, in.RawBody)
	if err != nil {
		if errors.Is(err, trigger.ErrUnauthorized) {
			h.logger.InfoContext(ctx, "webhook refused", "trigger", in.Name, "error", err.Error())
			return nil, huma.Error401Unauthorized("the webhook signature is missing, invalid or stale")
		}
		return nil, h.problem(ctx, err)
	}
	return emitOutput(res), nil
}

func triggerParams(b *TriggerRequest) trigger.Params {
	p := trigger.Params{Name: b.Name, EventType: b.EventType, Condition: b.Condition, Workflow: b.Workflow,
		InputTemplate: b.InputTemplate.raw(), Enabled: b.Enabled, Secret: b.Secret, Description: b.Description}
	if b.DedupWindow != nil {
		d := time.Duration(*b.DedupWindow) * time.Second
		p.DedupWindow = &d
	}
	return p
}

func triggerBody(t *trigger.Trigger) Trigger {
	return Trigger{Name: t.Name, EventType: t.EventType, Condition: t.Condition, Workflow: t.Workflow,
		InputTemplate: JSONObject(t.InputTemplate), DedupWindowSeconds: int(t.DedupWindow / time.Second), Enabled: t.Enabled,
		HasSecret: t.HasSecret, Description: t.Description, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

func (h *handlers) createTrigger(ctx context.Context, in *createTriggerInput) (*triggerOutput, error) {
	svc, err := h.triggerService()
	if err != nil {
		return nil, err
	}
	t, _, err := svc.Put(ctx, triggerParams(&in.Body), false)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &triggerOutput{Body: triggerBody(t)}, nil
}

func (h *handlers) listTriggers(ctx context.Context, _ *struct{}) (*triggerListOutput, error) {
	svc, err := h.triggerService()
	if err != nil {
		return nil, err
	}
	ts, err := svc.List(ctx)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &triggerListOutput{Body: TriggerList{Triggers: make([]Trigger, len(ts))}}
	for i, t := range ts {
		out.Body.Triggers[i] = triggerBody(t)
	}
	return out, nil
}

func (h *handlers) getTrigger(ctx context.Context, in *triggerNameInput) (*triggerOutput, error) {
	svc, err := h.triggerService()
	if err != nil {
		return nil, err
	}
	t, err := svc.Get(ctx, in.Name)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &triggerOutput{Body: triggerBody(t)}, nil
}

func (h *handlers) updateTrigger(ctx context.Context, in *updateTriggerInput) (*triggerOutput, error) {
	svc, err := h.triggerService()
	if err != nil {
		return nil, err
	}
	if in.Body.Name != in.Name {
		return nil, huma.Error422UnprocessableEntity("the name in the body must match the path",
			&huma.ErrorDetail{Location: "body.name", Message: "must be " + in.Name})
	}
	t, err := svc.Update(ctx, triggerParams(&in.Body))
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &triggerOutput{Body: triggerBody(t)}, nil
}

func (h *handlers) deleteTrigger(ctx context.Context, in *triggerNameInput) (*struct{}, error) {
	svc, err := h.triggerService()
	if err != nil {
		return nil, err
	}
	if err := svc.Delete(ctx, in.Name); err != nil {
		return nil, h.problem(ctx, err)
	}
	return nil, nil
}
