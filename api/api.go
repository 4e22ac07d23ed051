// Package api is Baton's REST API: Huma operations under /v1, health and
// readiness probes, the OpenAPI document, and the middleware around them
// (request logging, panic recovery, refusal of cross-origin writes and of
// non-JSON bodies, RFC 9457 problem bodies for unknown routes). Handlers
// hold no SQL and no business rules: they translate between HTTP types and
// calls to internal/engine.
package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	"github.com/go-chi/chi/v5"

	"github.com/baton-run/baton/internal/alert"
	"github.com/baton-run/baton/internal/analytics"
	"github.com/baton-run/baton/internal/batch"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/metrics"
	"github.com/baton-run/baton/internal/resilience"
	"github.com/baton-run/baton/internal/schedule"
	"github.com/baton-run/baton/internal/search"
	"github.com/baton-run/baton/internal/specschema"
	"github.com/baton-run/baton/internal/stream"
	"github.com/baton-run/baton/internal/trigger"
	"github.com/baton-run/baton/internal/webhook"
)

// Version is the version of the API contract, the info.version of the
// OpenAPI document: the one served at /openapi.json and the committed
// api/openapi.json alike. It follows the API, not the binary's build: bump
// it when the contract changes.
const Version = "1.0.0"

// Options configures the API handler.
type Options struct {
	// Engine serves every /v1 operation. It may be nil only to build the
	// OpenAPI document.
	Engine *engine.Engine

	// Queues serves the /v1/queues operations (nil: they answer 503).
	Queues QueueController

	// Breakers serves the /v1/breakers operations. It may be nil only to
	// build the OpenAPI document.
	Breakers *resilience.Breakers

	// Alerts serves the alerting operations (/v1/alert-rules,
	// /v1/alert-channels, /v1/alerts); nil: they answer 503.
	Alerts *alert.Service
	// Analytics serves the /v1/analytics operations, the Gantt data of runs
	// and the /v1/exports streams. Nil builds one on the engine's pool.
	Analytics *analytics.Service

	// Logger receives request logs and internal errors. Defaults to a
	// discarding logger.
	Logger *slog.Logger

	// Stream serves GET /v1/stream, the live event stream; it must be
	// running (stream.Hub.Run). Nil answers 503.
	Stream *stream.Hub

	// UI serves every request no API route matches, except under /v1: the
	// dashboard and the offline docs at /docs. Nil answers 404 problems.
	UI http.Handler

	// Ready reports whether the server can serve traffic, for /readyz. Nil
	// pings the engine's database pool.
	Ready func(ctx context.Context) error

	// Triggers serves /v1/events, /v1/triggers and /v1/hooks (nil: they
	// answer 503).
	Triggers *trigger.Service

	// Metrics serves GET /metrics and times every operation (nil: no
	// /metrics).
	Metrics *metrics.Metrics

	// Schedules serves the /v1/schedules operations. Nil builds one on the
	// engine's pool.
	Schedules *schedule.Service

	// Access is access control: API keys, roles, sessions, rate limits and
	// quotas. Nil serves every request as an anonymous admin (see Access).
	Access *Access

	// Sunset is when API v1 goes away, sent in v1 responses' Sunset header
	// (zero: DefaultSunset).
	Sunset time.Time

	// Webhooks serves /v2/webhooks (nil: they answer 503).
	Webhooks *webhook.Service
	// Jobs inserts River jobs in a transaction (redeliveries); nil answers
	// 503 where one is needed.
	Jobs webhook.JobInserter
	// Batches serves /v2/batches. Nil builds one on the engine's pool.
	Batches *batch.Service
	// Search serves /v2/runs and /v2/saved-searches. Nil builds one on the
	// engine's pool.
	Search *search.Service
}

// handlers holds what the operations need. Its methods are the operation
// handlers, one file per resource.
type handlers struct {
	engine   *engine.Engine
	breakers *resilience.Breakers
	queues   QueueController
	stream   *stream.Hub
	alerts   *alert.Service
	triggers *trigger.Service
	// analytics is nil only when building the OpenAPI document.
	analytics *analytics.Service
	// analyticsCache reuses analytics answers for a few seconds (analytics_cache.go).
	analyticsCache *analyticsCache
	logger         *slog.Logger
	ready          func(ctx context.Context) error
	// schedules is nil only when building the OpenAPI document.
	schedules *schedule.Service
	// access is nil when access control is off.
	access   *Access
	webhooks *webhook.Service
	jobs     webhook.JobInserter
	batches  *batch.Service
	search   *search.Service
}

// New returns the HTTP handler serving the API (wrapped in request logging,
// panic recovery, cross-origin protection and the JSON content-type check,
// with UI as the fallback) and the Huma API it is built
// on. The whole route table is here.
func New(opts Options) (http.Handler, huma.API) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &handlers{engine: opts.Engine, breakers: opts.Breakers, queues: opts.Queues, stream: opts.Stream, alerts: opts.Alerts, triggers: opts.Triggers, logger: opts.Logger, ready: opts.Ready}
	if h.ready == nil {
		h.ready = h.pingDatabase
	}
	h.access = opts.Access
	h.analytics = opts.Analytics
	h.analyticsCache = newAnalyticsCache(analyticsTTL)
	h.webhooks, h.jobs, h.batches = opts.Webhooks, opts.Jobs, opts.Batches
	if h.batches == nil && opts.Engine != nil {
		h.batches = batch.New(opts.Engine.Pool())
	}
	h.search = opts.Search
	if h.search == nil && opts.Engine != nil {
		h.search = search.New(opts.Engine.Pool())
	}
	h.schedules = opts.Schedules
	if h.schedules == nil && opts.Engine != nil {
		h.schedules = schedule.New(opts.Engine.Pool(), opts.Engine, schedule.Options{Logger: opts.Logger})
	}
	if h.analytics == nil && opts.Engine != nil {
		h.analytics = analytics.New(opts.Engine.Pool(), analytics.Options{Logger: opts.Logger})
	}

	router := chi.NewMux()
	router.Use(holdStatus)
	api := humachi.New(router, newConfig(opts.Logger))
	registerMetrics(router, api, opts.Metrics)
	api.UseMiddleware(authorize(api, opts.Access != nil))

	// Probes, outside the versioned API.
	huma.Register(api, huma.Operation{
		OperationID: "get-health",
		Method:      http.MethodGet,
		Path:        "/healthz",
		Summary:     "Liveness probe",
		Description: "Answers 200 while the process is alive. It does not check the database.",
		Tags:        []string{tagHealth},
		Errors:      []int{http.StatusInternalServerError},
	}, h.health)
	huma.Register(api, huma.Operation{
		OperationID: "get-readiness",
		Method:      http.MethodGet,
		Path:        "/readyz",
		Summary:     "Readiness probe",
		Description: "Answers 200 when the database is reachable, 503 otherwise.",
		Tags:        []string{tagHealth},
		Errors:      errorStatuses(),
	}, h.readiness)

	v1 := huma.NewGroup(api, "/v1")
	v2 := huma.NewGroup(api, "/v2")
	v1.UseModifier(alsoUnderV2) // every v1 operation is also a v2 one (versioning.go)
	registerAccess(v2, h)

	// Task types.
	huma.Register(v1, huma.Operation{
		OperationID:   "apply-task-type",
		Method:        http.MethodPost,
		Path:          "/task-types",
		Summary:       "Create or update a task type",
		Description:   "Creates the task type, or replaces the settings of an existing task type of the same name (an upsert). Answers 201 in both cases. Runs already started keep the settings they were started with.",
		Tags:          []string{tagTaskTypes},
		DefaultStatus: http.StatusCreated,
		Errors:        errorStatuses(http.StatusUnprocessableEntity),
	}, h.applyTaskType)
	huma.Register(v1, huma.Operation{
		OperationID: "list-task-types",
		Method:      http.MethodGet,
		Path:        "/task-types",
		Summary:     "List task types",
		Description: "Lists every task type, by name.",
		Tags:        []string{tagTaskTypes},
		Errors:      errorStatuses(),
	}, h.listTaskTypes)
	huma.Register(v1, huma.Operation{
		OperationID: "get-task-type",
		Method:      http.MethodGet,
		Path:        "/task-types/{name}",
		Summary:     "Get a task type",
		Tags:        []string{tagTaskTypes},
		Errors:      errorStatuses(http.StatusNotFound),
	}, h.getTaskType)

	// Workflows.
	huma.Register(v1, huma.Operation{
		OperationID:   "apply-workflow",
		Method:        http.MethodPost,
		Path:          "/workflows",
		Summary:       "Apply a workflow definition",
		Description:   "Validates the definition and stores it as a new version of its workflow (201). A definition identical to the latest version stores nothing and answers 200 with that version. Problems (unknown task types, dependency cycles, bad params) answer 422 with one error per problem.",
		Tags:          []string{tagWorkflows},
		DefaultStatus: http.StatusCreated,
		Responses:     alsoOK("The definition is identical to the latest version, which is returned.", "Workflow"),
		Errors:        errorStatuses(http.StatusUnprocessableEntity),
	}, h.applyWorkflow)
	huma.Register(v1, huma.Operation{
		OperationID: "list-workflows",
		Method:      http.MethodGet,
		Path:        "/workflows",
		Summary:     "List workflows",
		Description: "Lists the latest version of every workflow, by name, without definitions.",
		Tags:        []string{tagWorkflows},
		Errors:      errorStatuses(),
	}, h.listWorkflows)
	huma.Register(v1, huma.Operation{
		OperationID: "get-workflow",
		Method:      http.MethodGet,
		Path:        "/workflows/{name}",
		Summary:     "Get the latest version of a workflow",
		Tags:        []string{tagWorkflows},
		Errors:      errorStatuses(http.StatusNotFound),
	}, h.getWorkflow)
	huma.Register(v1, huma.Operation{
		OperationID: "get-workflow-version",
		Method:      http.MethodGet,
		Path:        "/workflows/{name}/versions/{version}",
		Summary:     "Get one version of a workflow",
		Tags:        []string{tagWorkflows},
		Errors:      errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.getWorkflowVersion)

	// Runs.
	huma.Register(v1, huma.Operation{
		OperationID:   "start-run",
		Method:        http.MethodPost,
		Path:          "/runs",
		Summary:       "Start a run",
		Description:   "Starts a run of a workflow (its latest version unless `version` is given) and answers 201 with the run and its tasks. When `idempotency_key` matches an earlier run, nothing is started: the answer is 200 with that run and the header `Idempotent-Replayed: true`. A key reused with another workflow or another input answers 409.",
		Tags:          []string{tagRuns},
		DefaultStatus: http.StatusCreated,
		Responses:     startRunResponses(),
		Errors:        errorStatuses(http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity),
	}, h.startRun)
	huma.Register(v1, huma.Operation{
		OperationID: "list-runs",
		Method:      http.MethodGet,
		Path:        "/runs",
		Summary:     "List runs",
		Description: "Lists runs newest first, without their tasks. Pass `next_cursor` back as `cursor` for the next page.",
		Tags:        []string{tagRuns},
		Errors:      errorStatuses(http.StatusUnprocessableEntity),
	}, h.listRuns)
	huma.Register(v1, huma.Operation{
		OperationID: "get-run",
		Method:      http.MethodGet,
		Path:        "/runs/{id}",
		Summary:     "Get a run with its tasks",
		Tags:        []string{tagRuns},
		Errors:      errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.getRun)
	huma.Register(v1, huma.Operation{
		OperationID: "cancel-run",
		Method:      http.MethodPost,
		Path:        "/runs/{id}/cancel",
		Summary:     "Cancel a run",
		Description: "Cancels a run that has not finished: its unfinished tasks are cancelled and running attempts are interrupted (River cancels their context). Answers 409 when the run had already finished.",
		Tags:        []string{tagRuns},
		Errors:      errorStatuses(http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity),
	}, h.cancelRun)
	huma.Register(v1, huma.Operation{
		OperationID: "list-run-events",
		Method:      http.MethodGet,
		Path:        "/runs/{id}/events",
		Summary:     "List a run's events",
		Description: "Lists the run's event log in order: starts, attempts, retries, failures and the run's own transitions.",
		Tags:        []string{tagRuns},
		Errors:      errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.listRunEvents)

	registerInterventions(v1, h)
	registerDeadLetters(v1, h)
	registerBreakers(v1, h)
	registerQueues(v1, h)
	registerSchemas(v1, h)
	registerPriority(v1, h)
	registerNodes(v1, h)
	registerRecommend(v1, h)
	registerSchedules(v1, h)
	registerTriggers(v1, h)
	registerStream(v1, h)
	registerAlerts(v1, h)
	registerAnalytics(v1, h)

	// API v2.
	registerWebhooks(v2, h)
	registerBatches(v2, h)
	registerSearch(v2, h)

	documentAccess(api.OpenAPI())
	documentExamples(api.OpenAPI())
	registerVersionDocuments(router, api.OpenAPI())

	var handler http.Handler
	registerMCP(router, h, func() http.Handler { return handler })

	router.NotFound(notFound(opts.UI))
	router.MethodNotAllowed(methodNotAllowed(router))

	sunset := opts.Sunset
	if sunset.IsZero() {
		sunset = DefaultSunset
	}
	handler = logRequests(opts.Logger, recoverPanics(opts.Logger, securityHeaders(versions(router, sunset,
		authenticate(opts.Access, refuseCrossOrigin(requireJSON(router)))))))
	return handler, api
}

// Operation tags, in the order the OpenAPI document lists them.
const (
	tagTaskTypes = "Task types"
	tagWorkflows = "Workflows"
	tagRuns      = "Runs"
	tagHealth    = "Health"
)

// newConfig returns the Huma configuration: the spec at /openapi.json and
// /openapi.yaml, no built-in docs page (the UI serves /docs offline), and no
// $schema links in bodies.
func newConfig(logger *slog.Logger) huma.Config {
	config := huma.DefaultConfig("Baton API", Version)
	config.Formats = map[string]huma.Format{
		"application/json": jsonFormat(logger),
		"json":             jsonFormat(logger),
		"text/csv":         csvFormat(logger),
	}
	config.Info.Description = "Baton is a PostgreSQL-native workflow orchestrator. Errors are RFC 9457 problem documents (`application/problem+json`); validation problems list one entry per culprit under `errors`, with its location (such as `body.steps[1].depends_on`)."
	config.Tags = []*huma.Tag{
		{Name: tagTaskTypes, Description: "Task types: an executor with its default params, retries, timeout, priority and queue."},
		{Name: tagWorkflows, Description: "Workflows: versioned DAGs of steps, each step an instance of a task type."},
		{Name: tagRuns, Description: "Runs: executions of a workflow version, with their tasks and event log."},
		{Name: "Dead letters", Description: "Tasks that failed for good, waiting to be resubmitted or discarded."},
		{Name: tagBreakers, Description: "Cluster-wide circuit breakers guarding task types or target hosts."},
		{Name: "Queues", Description: "River queues: pause and resume across every worker node."},
		{Name: tagNodes, Description: "Worker nodes: capacity, reserved resources, heartbeats and liveness."},
		{Name: tagStream, Description: "The live event stream (Server-Sent Events), resumable from the event log."},
		{Name: tagAlerts, Description: "Alerting: rules (built-in and custom), channels (webhook, Slack, e-mail), alerts to acknowledge and silence."},
		{Name: tagAnalytics, Description: "Analytics over runs, tasks, events and queues, Gantt data with the critical path, and streamed CSV/JSON exports."},
		{Name: tagSearch, Description: "Run search (v2): filters, full text with highlights, sorts with keyset cursors, saved searches."},
		{Name: tagBatches, Description: "Batches (v2): up to 10,000 runs started atomically and steered as one: progress, wait, retry, cancel."},
		{Name: tagWebhooks, Description: "Outbound webhooks (v2): subscriptions, signed deliveries, their log, redelivery and tests. The events sent are in the webhooks section."},
		{Name: tagSchemas, Description: "JSON Schemas of the YAML/JSON definition files (task_type, workflow, schedule, trigger) that baton apply reads."},
		{Name: tagHealth, Description: "Liveness and readiness probes."},
	}
	config.DocsPath = ""
	config.SchemasPath = ""
	config.CreateHooks = nil // drops the $schema link transformer
	return config
}

// errorStatuses lists the error statuses of an operation for the OpenAPI
// document: codes (the 4xx it answers) plus 503, which any operation that
// needs the database answers while it is unavailable, and 500.
func errorStatuses(codes ...int) []int {
	return append(codes, http.StatusServiceUnavailable, http.StatusInternalServerError)
}

// alsoOK documents a 200 response whose body is the named schema, for
// operations whose default status is 201.
func alsoOK(description, schema string) map[string]*huma.Response {
	return map[string]*huma.Response{
		"200": {
			Description: description,
			Content: map[string]*huma.MediaType{
				"application/json": {Schema: &huma.Schema{Ref: "#/components/schemas/" + schema}},
			},
		},
	}
}

// startRunResponses documents start-run's 200 response, a replay, with its
// Idempotent-Replayed header.
func startRunResponses() map[string]*huma.Response {
	responses := alsoOK("The idempotency key matched an earlier run, which is returned.", "Run")
	responses["200"].Headers = map[string]*huma.Param{
		"Idempotent-Replayed": {
			Description: "Always \"true\": the run was started by an earlier request with the same idempotency key.",
			Schema:      &huma.Schema{Type: huma.TypeString, Enum: []any{"true"}},
		},
	}
	return responses
}

// OpenAPI returns the API's OpenAPI 3.1 document. It needs no database.
func OpenAPI() *huma.OpenAPI {
	_, api := New(Options{})
	return api.OpenAPI()
}

// WriteSpec writes the OpenAPI document to dir/openapi.json and
// dir/openapi.yaml. The output depends only on the code, so that CI can
// check the committed files are fresh.
func WriteSpec(dir string) error {
	doc := OpenAPI()
	specJSON, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode openapi.json: %w", err)
	}
	specYAML, err := doc.YAML()
	if err != nil {
		return fmt.Errorf("encode openapi.yaml: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "openapi.json"), append(specJSON, '\n'), 0o644); err != nil {
		return fmt.Errorf("write openapi.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "openapi.yaml"), specYAML, 0o644); err != nil {
		return fmt.Errorf("write openapi.yaml: %w", err)
	}
	return specschema.WriteFiles(filepath.Join(dir, "schemas"))
}
