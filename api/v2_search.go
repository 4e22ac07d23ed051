package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/search"
)

// tagSearch groups run search and saved searches.
const tagSearch = "Search"

// RunSearchParams documents GET /v2/runs's parameters (exported: Huma documents
// the fields of exported embedded structs only); the handler reads
// them from the raw query string (search.ParseQuery), the same parser saved
// searches use.
type RunSearchParams struct {
	Workflow      string `query:"workflow" maxLength:"200" doc:"Runs of this workflow."`
	Status        string `query:"status" maxLength:"200" doc:"Comma-separated run statuses (any of)."`
	Owner         string `query:"owner" maxLength:"200"`
	Trigger       string `query:"trigger" maxLength:"20" doc:"api, sql, schedule, event, batch or library."`
	Priority      int    `query:"priority" minimum:"0" maximum:"4"`
	TagsAll       string `query:"tags_all" maxLength:"2000" doc:"Comma-separated tags the run has all of."`
	TagsAny       string `query:"tags_any" maxLength:"2000" doc:"Comma-separated tags the run has any of."`
	CreatedFrom   string `query:"created_from" doc:"RFC 3339; inclusive."`
	CreatedTo     string `query:"created_to" doc:"RFC 3339; exclusive."`
	StartedFrom   string `query:"started_from"`
	StartedTo     string `query:"started_to"`
	FinishedFrom  string `query:"finished_from"`
	FinishedTo    string `query:"finished_to"`
	MinDurationMs string `query:"min_duration_ms" doc:"Finished runs that took at least this long."`
	MaxDurationMs string `query:"max_duration_ms"`
	MinCost       string `query:"min_cost" maxLength:"30" doc:"Finished runs that cost at least this much (the sum of their tasks' prices, see task types' cost_per_second and cost_per_run)."`
	MaxCost       string `query:"max_cost" maxLength:"30"`
	Batch         string `query:"batch" doc:"Members of this batch."`
	Step          string `query:"step" maxLength:"200" doc:"Runs having a task of this step (with step_status: in that status)."`
	StepStatus    string `query:"step_status" maxLength:"20" doc:"Runs having a task in this status (of step, when given)."`
	Q             string `query:"q" maxLength:"1000" doc:"Full text over input, outputs, errors, tags, owner and workflow, in websearch syntax (\"quoted phrase\", or, -not). Matches are highlighted. Runs are indexed within about a second of starting and finishing."`
	Sort          string `query:"sort" enum:"created,finished,duration,cost" doc:"created (newest first, the default), finished (latest completion first), duration (longest first) or cost (most expensive first); the last three list finished runs only, cost those with a priced task type."`
	Limit         string `query:"limit" doc:"1 to 500 (default 50)."`
	Cursor        string `query:"cursor" maxLength:"200" doc:"next_cursor of the previous page."`
}

type runSearchInput struct {
	RunSearchParams
	raw url.Values
}

// Resolve keeps the raw query string for search.ParseQuery.
func (in *runSearchInput) Resolve(ctx huma.Context) []error {
	u := ctx.URL()
	in.raw = u.Query()
	return nil
}

// RunSearchRequest is POST /v2/runs/search's body: the parameters of GET
// /v2/runs as JSON strings, for queries too long for a URL.
type RunSearchRequest struct {
	Params map[string]string `json:"params" doc:"Parameter name to value, as in GET /v2/runs (workflow, status, q, sort, cursor ...)."`
}

type runSearchPostInput struct{ Body RunSearchRequest }

// RunFound is a run in search results.
type RunFound struct {
	ID         int64      `json:"id"`
	Workflow   string     `json:"workflow"`
	Version    int        `json:"version"`
	Status     string     `json:"status"`
	Priority   int        `json:"priority"`
	Owner      string     `json:"owner"`
	Tags       []string   `json:"tags"`
	Trigger    string     `json:"trigger"`
	TriggerRef *string    `json:"trigger_ref,omitempty"`
	Error      *string    `json:"error,omitempty"`
	TasksTotal int        `json:"tasks_total"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	DurationMs *int64     `json:"duration_ms,omitempty"`
	Cost       string     `json:"cost,omitempty" doc:"The finished run's cost, a decimal (the sum of its tasks' prices); absent while it runs or when no task type is priced. Computed with the search index, within about a second of the run's end."`
	Highlight  string     `json:"highlight,omitempty" doc:"Where the full-text query matched, matches in <mark>...</mark>."`
}

// RunSearchPage is a page of search results.
type RunSearchPage struct {
	Runs       []RunFound `json:"runs"`
	NextCursor string     `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last."`
	Query      string     `json:"query" doc:"The search as a canonical query string (without cursor)."`
}

// SavedSearchRequest saves a search.
type SavedSearchRequest struct {
	Name   string `json:"name" minLength:"1" maxLength:"200"`
	Query  string `json:"query" maxLength:"4000" doc:"The query string of GET /v2/runs, such as status=failed&q=timeout."`
	Shared bool   `json:"shared,omitempty" doc:"Visible to every key, not only its owner."`
}

// SavedSearch is a saved search with its links.
type SavedSearch struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	Shared       bool      `json:"shared"`
	Query        string    `json:"query"`
	APIURL       string    `json:"api_url" doc:"GET this to run the search."`
	DashboardURL string    `json:"dashboard_url" doc:"The dashboard's runs page with this search: bookmarkable."`
	CreatedAt    time.Time `json:"created_at"`
}

// SavedSearchList lists saved searches.
type SavedSearchList struct {
	Searches []SavedSearch `json:"searches"`
}

// SavedSearchResult is a saved search run.
type SavedSearchResult struct {
	Search SavedSearch   `json:"search"`
	Page   RunSearchPage `json:"page"`
}

// WorkflowOutcomes counts a workflow's runs finished in the window.
type WorkflowOutcomes struct {
	Finished    int64    `json:"finished"`
	Succeeded   int64    `json:"succeeded"`
	Failed      int64    `json:"failed"`
	Cancelled   int64    `json:"cancelled"`
	SuccessRate *float64 `json:"success_rate,omitempty" doc:"succeeded / finished, 0 to 1; absent when no run finished in the window."`
}

// WorkflowSummary is the latest version of a workflow (without its
// definition) with its outcomes over the window.
type WorkflowSummary struct {
	Workflow
	Outcomes WorkflowOutcomes `json:"outcomes"`
}

// WorkflowSummaryList is the body of GET /v2/workflows.
type WorkflowSummaryList struct {
	Since     time.Time         `json:"since" doc:"The window's start: outcomes count the runs finished since."`
	Workflows []WorkflowSummary `json:"workflows"`
}

type workflowSummaryInput struct {
	Sort        string `query:"sort" enum:"name,success_rate" default:"name" doc:"name, or success_rate: the worst first, those with no finished run last."`
	WindowHours int    `query:"window_hours" minimum:"1" maximum:"8760" default:"168" doc:"The window: runs finished in the last this many hours (default a week)."`
}
type workflowSummaryOutput struct{ Body WorkflowSummaryList }

func (h *handlers) listWorkflowSummaries(ctx context.Context, in *workflowSummaryInput) (*workflowSummaryOutput, error) {
	svc, err := h.searchService()
	if err != nil {
		return nil, err
	}
	since := time.Now().UTC().Add(-time.Duration(in.WindowHours) * time.Hour)
	rates, err := svc.WorkflowRates(ctx, since, in.Sort == "success_rate")
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	workflows, err := h.engine.ListWorkflows(ctx)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	byName := make(map[string]Workflow, len(workflows))
	for _, wf := range workflows {
		byName[wf.Name] = workflowFrom(wf, false)
	}
	out := &workflowSummaryOutput{Body: WorkflowSummaryList{Since: since, Workflows: make([]WorkflowSummary, 0, len(rates))}}
	for _, r := range rates {
		wf, ok := byName[r.Workflow]
		if !ok {
			continue // applied between the two reads
		}
		out.Body.Workflows = append(out.Body.Workflows, WorkflowSummary{Workflow: wf, Outcomes: WorkflowOutcomes{
			Finished: r.Finished, Succeeded: r.Succeeded, Failed: r.Failed, Cancelled: r.Cancelled, SuccessRate: r.SuccessRate}})
	}
	return out, nil
}

type savedCreateInput struct{ Body SavedSearchRequest }
type savedRunInput struct {
	ID     int64  `path:"id" minimum:"1"`
	Cursor string `query:"cursor" maxLength:"200"`
}
type runSearchOutput struct{ Body RunSearchPage }
type savedOutput struct{ Body SavedSearch }
type savedListOutput struct{ Body SavedSearchList }
type savedResultOutput struct{ Body SavedSearchResult }

func registerSearch(api huma.API, h *handlers) {
	tags := []string{tagSearch}
	huma.Register(api, huma.Operation{
		OperationID: "search-runs", Method: http.MethodGet, Path: "/runs", Summary: "Search runs",
		Description: "Filters (every one given must hold), full text with highlights, three sorts and a keyset cursor that stays correct under inserts. Bad parameters answer 422 naming the parameter.",
		Tags:        tags, Errors: errorStatuses(http.StatusUnprocessableEntity),
	}, h.searchRuns)
	huma.Register(api, huma.Operation{
		OperationID: "search-runs-post", Method: http.MethodPost, Path: "/runs/search", Summary: "Search runs (long queries)",
		Description: "GET /v2/runs with the parameters in the body.",
		Tags:        tags, Errors: errorStatuses(http.StatusUnprocessableEntity),
	}, h.searchRunsPost)
	huma.Register(api, huma.Operation{
		OperationID: "list-workflow-summaries", Method: http.MethodGet, Path: "/workflows", Summary: "List workflows with their outcomes",
		Description: "The latest version of every workflow (as v1's list, without definitions) with its runs finished in the window by outcome and its success rate (succeeded / finished); `sort=success_rate` puts the worst first. Replaces v1's list-workflows under /v2.",
		Tags:        tags, Errors: errorStatuses(http.StatusUnprocessableEntity),
	}, h.listWorkflowSummaries)
	huma.Register(api, huma.Operation{
		OperationID: "create-saved-search", Method: http.MethodPost, Path: "/saved-searches", Summary: "Save a search",
		Tags: tags, DefaultStatus: http.StatusCreated, Errors: errorStatuses(http.StatusConflict, http.StatusUnprocessableEntity),
	}, h.createSavedSearch)
	huma.Register(api, huma.Operation{
		OperationID: "list-saved-searches", Method: http.MethodGet, Path: "/saved-searches", Summary: "List saved searches",
		Description: "The searches of the caller's key and the shared ones, by name.", Tags: tags, Errors: errorStatuses(),
	}, h.listSavedSearches)
	huma.Register(api, huma.Operation{
		OperationID: "run-saved-search", Method: http.MethodGet, Path: "/saved-searches/{id}/runs", Summary: "Run a saved search",
		Tags: tags, Errors: errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.runSavedSearch)
	huma.Register(api, huma.Operation{
		OperationID: "delete-saved-search", Method: http.MethodDelete, Path: "/saved-searches/{id}", Summary: "Delete a saved search",
		Tags: tags, DefaultStatus: http.StatusNoContent, Errors: errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.deleteSavedSearch)
}

func (h *handlers) searchService() (*search.Service, error) {
	if h.search == nil {
		return nil, unavailable("search is not configured on this server")
	}
	return h.search, nil
}

// queryProblem maps a search validation error to a 422 naming the query
// parameter (not a body field).
func (h *handlers) queryProblem(ctx context.Context, err error, prefix string) error {
	var invalid *engine.ValidationError
	if errors.As(err, &invalid) {
		details := make([]error, len(invalid.Problems))
		for i, p := range invalid.Problems {
			details[i] = &huma.ErrorDetail{Location: prefix + p.Field, Message: p.Message}
		}
		return huma.Error422UnprocessableEntity("invalid search", details...)
	}
	return h.problem(ctx, err)
}

func (h *handlers) runSearch(ctx context.Context, v url.Values, prefix string) (*runSearchOutput, error) {
	svc, err := h.searchService()
	if err != nil {
		return nil, err
	}
	q, err := search.ParseQuery(v)
	if err != nil {
		return nil, h.queryProblem(ctx, err, prefix)
	}
	page, err := svc.Search(ctx, q)
	if err != nil {
		return nil, h.queryProblem(ctx, err, prefix)
	}
	return &runSearchOutput{Body: pageFrom(page, q)}, nil
}

func pageFrom(page *search.Page, q search.Query) RunSearchPage {
	out := RunSearchPage{Runs: make([]RunFound, len(page.Runs)), NextCursor: page.NextCursor, Query: q.Encode()}
	for i, r := range page.Runs {
		out.Runs[i] = RunFound{ID: r.ID, Workflow: r.Workflow, Version: r.Version, Status: r.Status, Priority: r.Priority,
			Owner: r.Owner, Tags: nonNilStrings(r.Tags), Trigger: r.Trigger, TriggerRef: r.TriggerRef, Error: r.Error,
			TasksTotal: r.TasksTotal, CreatedAt: r.CreatedAt.UTC(), StartedAt: utcPtr(r.StartedAt),
			FinishedAt: utcPtr(r.FinishedAt), DurationMs: r.DurationMs, Cost: r.Cost, Highlight: r.Highlight}
	}
	return out
}

func (h *handlers) searchRuns(ctx context.Context, in *runSearchInput) (*runSearchOutput, error) {
	return h.runSearch(ctx, in.raw, "query.")
}

func (h *handlers) searchRunsPost(ctx context.Context, in *runSearchPostInput) (*runSearchOutput, error) {
	v := url.Values{}
	for k, val := range in.Body.Params {
		v.Set(k, val)
	}
	return h.runSearch(ctx, v, "body.params.")
}

// savedOwner is who saved searches belong to: the caller's API key by name
// (a rotated key keeps its searches), or "" for anonymous callers (baton dev
// on loopback, or access control off), who share one owner.
func savedOwner(ctx context.Context) string {
	if k := keyOf(ctx); k != nil {
		return k.Name
	}
	return ""
}

func savedFrom(s *search.Saved) SavedSearch {
	return SavedSearch{ID: s.ID, Name: s.Name, Shared: s.Shared, Query: s.Query, APIURL: "/v2/runs?" + s.Query,
		DashboardURL: "/runs?" + s.Query, CreatedAt: s.CreatedAt.UTC()}
}

func (h *handlers) createSavedSearch(ctx context.Context, in *savedCreateInput) (*savedOutput, error) {
	svc, err := h.searchService()
	if err != nil {
		return nil, err
	}
	v, err := url.ParseQuery(in.Body.Query)
	if err != nil {
		return nil, huma.Error422UnprocessableEntity("invalid search", &huma.ErrorDetail{Location: "body.query", Message: "not a query string"})
	}
	q, err := search.ParseQuery(v)
	if err != nil {
		return nil, h.queryProblem(ctx, err, "body.query.")
	}
	saved, err := svc.Save(ctx, savedOwner(ctx), in.Body.Name, in.Body.Shared, q)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &savedOutput{Body: savedFrom(saved)}, nil
}

func (h *handlers) listSavedSearches(ctx context.Context, _ *struct{}) (*savedListOutput, error) {
	svc, err := h.searchService()
	if err != nil {
		return nil, err
	}
	list, err := svc.List(ctx, savedOwner(ctx))
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &savedListOutput{Body: SavedSearchList{Searches: make([]SavedSearch, len(list))}}
	for i, s := range list {
		out.Body.Searches[i] = savedFrom(s)
	}
	return out, nil
}

func (h *handlers) runSavedSearch(ctx context.Context, in *savedRunInput) (*savedResultOutput, error) {
	svc, err := h.searchService()
	if err != nil {
		return nil, err
	}
	saved, page, err := svc.Run(ctx, savedOwner(ctx), in.ID, in.Cursor)
	if err != nil {
		return nil, h.queryProblem(ctx, err, "query.")
	}
	v, _ := url.ParseQuery(saved.Query)
	q, _ := search.ParseQuery(v)
	return &savedResultOutput{Body: SavedSearchResult{Search: savedFrom(saved), Page: pageFrom(page, q)}}, nil
}

func (h *handlers) deleteSavedSearch(ctx context.Context, in *idInput) (*struct{}, error) {
	svc, err := h.searchService()
	if err != nil {
		return nil, err
	}
	if err := svc.Delete(ctx, savedOwner(ctx), in.ID); err != nil {
		return nil, h.problem(ctx, err)
	}
	return nil, nil
}
