package api

import (
	"context"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/webhook"
)

// tagWebhooks groups the outbound webhook operations.
const tagWebhooks = "Webhooks"

// WebhookEvent is the body of every delivery (webhook.Event), documented
// in the OpenAPI document's webhooks section.
type WebhookEvent webhook.Event

// WebhookRequest creates a subscription or, on update, changes the fields
// given.
type WebhookRequest struct {
	URL         *string  `json:"url,omitempty" maxLength:"2000" doc:"The receiver, an absolute http or https URL. Private and loopback targets are refused (422) unless the server allows them; every delivery checks the address again when it connects. Redirects are not followed."`
	Description *string  `json:"description,omitempty" maxLength:"1000"`
	EventTypes  []string `json:"event_types,omitempty" maxItems:"50" doc:"The event types wanted (required on creation): run.started, run.succeeded, run.failed, run.cancelled, run.paused, run.resumed, run.needs_attention, run.compensating, run.compensated, run.compensation_failed (saga compensation after a batch rollback), task.failed (an attempt failed), task.dead, breaker.opened, breaker.closed, sla.at_risk, sla.violated, batch.finished, webhook.disabled."`
	Workflows   []string `json:"workflows,omitempty" maxItems:"50" doc:"Only events of runs of these workflows."`
	Owners      []string `json:"owners,omitempty" maxItems:"50" doc:"Only events of runs with one of these owners."`
	Tags        []string `json:"tags,omitempty" maxItems:"50" doc:"Only events of runs having any of these tags. Events without a run (breakers, webhook.disabled) reach only subscriptions without workflow, owner or tag filters."`
	Enabled     *bool    `json:"enabled,omitempty" doc:"Default true. Enabling a subscription that was disabled for failing clears its failure count."`
}

// Webhook is a subscription, without its secret.
type Webhook struct {
	ID                  int64      `json:"id"`
	URL                 string     `json:"url"`
	Description         string     `json:"description"`
	EventTypes          []string   `json:"event_types"`
	Workflows           []string   `json:"workflows"`
	Owners              []string   `json:"owners"`
	Tags                []string   `json:"tags"`
	Enabled             bool       `json:"enabled"`
	DisabledReason      string     `json:"disabled_reason,omitempty" doc:"Why the server disabled the subscription (deliveries kept failing)."`
	ConsecutiveFailures int        `json:"consecutive_failures" doc:"Deliveries in a row that failed every attempt."`
	PreviousSecretUntil *time.Time `json:"previous_secret_until,omitempty" doc:"While a rotation's overlap lasts, deliveries are signed with the previous secret too, until this time."`
	CreatedAt           time.Time  `json:"created_at"`
	UpdatedAt           time.Time  `json:"updated_at"`
}

// WebhookCreated is a new subscription with its signing secret.
type WebhookCreated struct {
	Webhook
	Secret string `json:"secret" doc:"The signing secret (\"whsec_\" and base64), shown this once. Verify webhook-signature (\"v1,\" and the base64 HMAC-SHA256 of webhook-id.webhook-timestamp.body, keyed with the base64-decoded secret) against it."`
}

// WebhookList is the body of list-webhooks.
type WebhookList struct {
	Webhooks []Webhook `json:"webhooks"`
}

// WebhookAttempt is one attempt of a delivery.
type WebhookAttempt struct {
	Attempt      int       `json:"attempt"`
	Succeeded    bool      `json:"succeeded"`
	StatusCode   *int      `json:"status_code,omitempty" doc:"The receiver's HTTP status; absent when it could not be reached."`
	LatencyMs    float64   `json:"latency_ms"`
	ResponseHead string    `json:"response_head,omitempty" doc:"The first 1,024 bytes of the receiver's answer."`
	Error        string    `json:"error,omitempty"`
	At           time.Time `json:"at"`
}

// WebhookDelivery is one event sent to one subscription.
type WebhookDelivery struct {
	ID         int64            `json:"id"`
	WebhookID  int64            `json:"webhook_id"`
	MessageID  string           `json:"message_id" doc:"The webhook-id header: the same on every attempt and redelivery, for receivers to deduplicate."`
	EventType  string           `json:"event_type"`
	EventID    *int64           `json:"event_id,omitempty"`
	Payload    JSONObject       `json:"payload" doc:"The body sent (a WebhookEvent)."`
	Status     string           `json:"status" enum:"pending,succeeded,failed"`
	Attempts   []WebhookAttempt `json:"attempts"`
	CreatedAt  time.Time        `json:"created_at"`
	FinishedAt *time.Time       `json:"finished_at,omitempty"`
}

// WebhookDeliveryList is a page of deliveries.
type WebhookDeliveryList struct {
	Deliveries []WebhookDelivery `json:"deliveries"`
	NextCursor *int64            `json:"next_cursor,omitempty" doc:"Pass as before for the next page."`
}

// WebhookRotateRequest rotates a signing secret.
type WebhookRotateRequest struct {
	OverlapSeconds *int `json:"overlap_seconds,omitempty" minimum:"0" maximum:"604800" doc:"How long deliveries keep a signature with the previous secret too (default 86400)."`
}

type webhookCreateInput struct{ Body WebhookRequest }
type webhookUpdateInput struct {
	ID   int64 `path:"id" minimum:"1"`
	Body WebhookRequest
}
type webhookRotateInput struct {
	ID   int64 `path:"id" minimum:"1"`
	Body *WebhookRotateRequest
}
type webhookDeliveriesInput struct {
	ID     int64 `path:"id" minimum:"1"`
	Before int64 `query:"before" minimum:"0" doc:"Only deliveries with a lower id (the next_cursor of the previous page)."`
	Limit  int   `query:"limit" minimum:"1" maximum:"200" default:"50"`
}
type webhookRedeliverInput struct {
	ID         int64 `path:"id" minimum:"1"`
	DeliveryID int64 `path:"delivery_id" minimum:"1"`
}
type webhookOutput struct{ Body Webhook }
type webhookCreatedOutput struct{ Body WebhookCreated }
type webhookListOutput struct{ Body WebhookList }
type webhookDeliveryOutput struct{ Body WebhookDelivery }
type webhookDeliveryListOutput struct{ Body WebhookDeliveryList }

func registerWebhooks(api huma.API, h *handlers) {
	tags := []string{tagWebhooks}
	unprocessable := errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity)
	huma.Register(api, huma.Operation{
		OperationID: "create-webhook", Method: http.MethodPost, Path: "/webhooks", Summary: "Subscribe to events",
		Description: "Creates an outbound webhook subscription and returns its signing secret once. Deliveries are POSTs of a WebhookEvent (see the webhooks section) signed per Standard Webhooks, tried up to 3 times with exponential backoff; a subscription whose deliveries keep failing is disabled with a webhook_disabled event.",
		Tags:        tags, DefaultStatus: http.StatusCreated, Errors: errorStatuses(http.StatusUnprocessableEntity),
	}, h.createWebhook)
	huma.Register(api, huma.Operation{
		OperationID: "list-webhooks", Method: http.MethodGet, Path: "/webhooks", Summary: "List webhook subscriptions",
		Tags: tags, Errors: errorStatuses(),
	}, h.listWebhooks)
	huma.Register(api, huma.Operation{
		OperationID: "get-webhook", Method: http.MethodGet, Path: "/webhooks/{id}", Summary: "Get a webhook subscription",
		Tags: tags, Errors: unprocessable,
	}, h.getWebhook)
	huma.Register(api, huma.Operation{
		OperationID: "update-webhook", Method: http.MethodPatch, Path: "/webhooks/{id}", Summary: "Change a webhook subscription",
		Description: "Changes the fields given; a list given replaces the old one.",
		Tags:        tags, Errors: unprocessable,
	}, h.updateWebhook)
	huma.Register(api, huma.Operation{
		OperationID: "delete-webhook", Method: http.MethodDelete, Path: "/webhooks/{id}", Summary: "Delete a webhook subscription",
		Description: "Deletes the subscription and its delivery log; pending deliveries are dropped.",
		Tags:        tags, DefaultStatus: http.StatusNoContent, Errors: unprocessable,
	}, h.deleteWebhook)
	huma.Register(api, huma.Operation{
		OperationID: "rotate-webhook-secret", Method: http.MethodPost, Path: "/webhooks/{id}/rotate-secret",
		Summary:     "Rotate a webhook's signing secret",
		Description: "Generates a new secret, returned once. During the overlap, webhook-signature carries two signatures (new, then previous, space-separated), so receivers can switch secrets without missing a delivery.",
		Tags:        tags, Errors: unprocessable,
	}, h.rotateWebhookSecret)
	huma.Register(api, huma.Operation{
		OperationID: "test-webhook", Method: http.MethodPost, Path: "/webhooks/{id}/test", Summary: "Send a test event",
		Description: "Sends a signed webhook.test event to the subscription now (enabled or not) and answers with the delivery: the receiver's status, latency and the first bytes of its answer. A receiver that fails is a 200 with status failed, not an error.",
		Tags:        tags, Errors: unprocessable,
	}, h.testWebhook)
	huma.Register(api, huma.Operation{
		OperationID: "list-webhook-deliveries", Method: http.MethodGet, Path: "/webhooks/{id}/deliveries",
		Summary: "List a webhook's deliveries", Description: "Newest first, each with its attempts.",
		Tags: tags, Errors: unprocessable,
	}, h.listWebhookDeliveries)
	huma.Register(api, huma.Operation{
		OperationID: "redeliver-webhook", Method: http.MethodPost, Path: "/webhooks/{id}/deliveries/{delivery_id}/redeliver",
		Summary:     "Redeliver a past delivery",
		Description: "Sends the delivery again (same webhook-id and body, new signature) with a fresh set of attempts.",
		Tags:        tags, DefaultStatus: http.StatusAccepted, Errors: unprocessable,
	}, h.redeliverWebhook)
	documentWebhookEvents(api)
}

// documentWebhookEvents fills the OpenAPI 3.1 webhooks section: one entry
// per event type, each a POST of a WebhookEvent with the signature headers.
func documentWebhookEvents(api huma.API) {
	oapi := api.OpenAPI()
	schema := oapi.Components.Schemas.Schema(reflect.TypeOf(WebhookEvent{}), true, "WebhookEvent")
	if oapi.Webhooks == nil {
		oapi.Webhooks = map[string]*huma.PathItem{}
	}
	header := func(name, doc string) *huma.Param {
		return &huma.Param{Name: name, In: "header", Required: true, Description: doc, Schema: &huma.Schema{Type: huma.TypeString}}
	}
	for _, t := range append(webhook.EventTypes(), webhook.TestEventType) {
		oapi.Webhooks[t] = &huma.PathItem{Post: &huma.Operation{
			OperationID: "webhook-" + t,
			Summary:     "The " + t + " event",
			Description: "Sent to subscriptions that ask for " + t + ". Answer 2xx within 10 s; any other answer is retried.",
			Tags:        []string{tagWebhooks},
			Parameters: []*huma.Param{
				header("webhook-id", "The message id, the same on every attempt: deduplicate on it."),
				header("webhook-timestamp", "Unix seconds when the attempt was signed; refuse old ones to stop replays."),
				header("webhook-signature", "Space-separated \"v1,<base64 HMAC-SHA256 of id.timestamp.body>\" signatures (two during a secret rotation); accept the message when one matches."),
			},
			RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
				"application/json": {Schema: schema},
			}},
			Responses: map[string]*huma.Response{"200": {Description: "Received."}},
		}}
	}
}

// webhookService returns the webhook service, or 503 on a server built
// without webhooks.
func (h *handlers) webhookService() (*webhook.Service, error) {
	if h.webhooks == nil {
		return nil, unavailable("webhooks are not configured on this server")
	}
	return h.webhooks, nil
}

func webhookFrom(w *webhook.Webhook) Webhook {
	return Webhook{ID: w.ID, URL: w.URL, Description: w.Description, EventTypes: nonNilStrings(w.EventTypes),
		Workflows: nonNilStrings(w.Workflows), Owners: nonNilStrings(w.Owners), Tags: nonNilStrings(w.Tags), Enabled: w.Enabled,
		DisabledReason: w.DisabledReason, ConsecutiveFailures: w.ConsecutiveFailures,
		PreviousSecretUntil: utcPtr(w.PreviousSecretUntil), CreatedAt: w.CreatedAt.UTC(), UpdatedAt: w.UpdatedAt.UTC()}
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func webhookDeliveryFrom(d *webhook.Delivery) WebhookDelivery {
	out := WebhookDelivery{ID: d.ID, WebhookID: d.WebhookID, MessageID: d.MessageID, EventType: d.EventType,
		EventID: d.EventID, Payload: JSONObject(d.Payload), Status: d.Status, CreatedAt: d.CreatedAt.UTC(),
		FinishedAt: utcPtr(d.FinishedAt), Attempts: make([]WebhookAttempt, len(d.Attempts))}
	for i, a := range d.Attempts {
		out.Attempts[i] = WebhookAttempt{Attempt: a.Attempt, Succeeded: a.Succeeded, StatusCode: a.StatusCode,
			LatencyMs: a.LatencyMs, ResponseHead: a.ResponseHead, Error: a.Error, At: a.At.UTC()}
	}
	return out
}

func webhookSpec(r *WebhookRequest) webhook.Spec {
	return webhook.Spec{URL: r.URL, Description: r.Description, EventTypes: r.EventTypes, Workflows: r.Workflows,
		Owners: r.Owners, Tags: r.Tags, Enabled: r.Enabled}
}

func (h *handlers) createWebhook(ctx context.Context, in *webhookCreateInput) (*webhookCreatedOutput, error) {
	svc, err := h.webhookService()
	if err != nil {
		return nil, err
	}
	w, secret, err := svc.Create(ctx, webhookSpec(&in.Body))
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &webhookCreatedOutput{Body: WebhookCreated{Webhook: webhookFrom(w), Secret: secret}}, nil
}

func (h *handlers) listWebhooks(ctx context.Context, _ *struct{}) (*webhookListOutput, error) {
	svc, err := h.webhookService()
	if err != nil {
		return nil, err
	}
	list, err := svc.List(ctx)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &webhookListOutput{Body: WebhookList{Webhooks: make([]Webhook, len(list))}}
	for i, w := range list {
		out.Body.Webhooks[i] = webhookFrom(w)
	}
	return out, nil
}

func (h *handlers) getWebhook(ctx context.Context, in *idInput) (*webhookOutput, error) {
	svc, err := h.webhookService()
	if err != nil {
		return nil, err
	}
	w, err := svc.Get(ctx, in.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &webhookOutput{Body: webhookFrom(w)}, nil
}

func (h *handlers) updateWebhook(ctx context.Context, in *webhookUpdateInput) (*webhookOutput, error) {
	svc, err := h.webhookService()
	if err != nil {
		return nil, err
	}
	w, err := svc.Update(ctx, in.ID, webhookSpec(&in.Body))
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &webhookOutput{Body: webhookFrom(w)}, nil
}

func (h *handlers) deleteWebhook(ctx context.Context, in *idInput) (*struct{}, error) {
	svc, err := h.webhookService()
	if err != nil {
		return nil, err
	}
	if err := svc.Delete(ctx, in.ID); err != nil {
		return nil, h.problem(ctx, err)
	}
	return nil, nil
}

func (h *handlers) rotateWebhookSecret(ctx context.Context, in *webhookRotateInput) (*webhookCreatedOutput, error) {
	svc, err := h.webhookService()
	if err != nil {
		return nil, err
	}
	overlap := 24 * time.Hour
	if in.Body != nil && in.Body.OverlapSeconds != nil {
		overlap = time.Duration(*in.Body.OverlapSeconds) * time.Second
	}
	w, secret, err := svc.RotateSecret(ctx, in.ID, overlap)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &webhookCreatedOutput{Body: WebhookCreated{Webhook: webhookFrom(w), Secret: secret}}, nil
}

func (h *handlers) testWebhook(ctx context.Context, in *idInput) (*webhookDeliveryOutput, error) {
	svc, err := h.webhookService()
	if err != nil {
		return nil, err
	}
	d, err := svc.Test(ctx, in.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &webhookDeliveryOutput{Body: webhookDeliveryFrom(d)}, nil
}

func (h *handlers) listWebhookDeliveries(ctx context.Context, in *webhookDeliveriesInput) (*webhookDeliveryListOutput, error) {
	svc, err := h.webhookService()
	if err != nil {
		return nil, err
	}
	var before *int64
	if in.Before > 0 {
		before = &in.Before
	}
	list, err := svc.Deliveries(ctx, in.ID, before, in.Limit)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &webhookDeliveryListOutput{Body: WebhookDeliveryList{Deliveries: make([]WebhookDelivery, len(list))}}
	for i, d := range list {
		out.Body.Deliveries[i] = webhookDeliveryFrom(d)
	}
	if len(list) == in.Limit {
		out.Body.NextCursor = &list[len(list)-1].ID
	}
	return out, nil
}

func (h *handlers) redeliverWebhook(ctx context.Context, in *webhookRedeliverInput) (*webhookDeliveryOutput, error) {
	svc, err := h.webhookService()
	if err != nil {
		return nil, err
	}
	if h.jobs == nil {
		return nil, unavailable("this server cannot enqueue jobs")
	}
	d, err := svc.Redeliver(ctx, h.jobs, in.ID, in.DeliveryID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &webhookDeliveryOutput{Body: webhookDeliveryFrom(d)}, nil
}
