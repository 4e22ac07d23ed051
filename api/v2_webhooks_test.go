package api_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/internal/webhook"
)

// webhookServer is the API with outbound webhooks on a fresh database;
// allowPrivate is the server's allow flag for private targets.
func webhookServer(t testing.TB, allowPrivate bool) http.Handler {
	t.Helper()
	pool := testdb.NewPool(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	svc, err := webhook.New(pool, webhook.Options{SecretKey: key, AllowPrivate: allowPrivate})
	require.NoError(t, err)
	h, _ := api.New(api.Options{Engine: engine.New(pool, engine.Options{}), Webhooks: svc,
		Logger: slog.New(slog.DiscardHandler)})
	return h
}

// TestWebhookTargetsAreGuarded: private and loopback targets are refused
// at registration with a 422 naming body.url, unless the server allows
// them; other bad input answers 4xx naming the field.
func TestWebhookTargetsAreGuarded(t *testing.T) {
	t.Parallel()
	h := webhookServer(t, false)
	for _, tc := range []struct {
		body  string
		field string
	}{
		{`{"url": "http://127.0.0.1:9/hook", "event_types": ["run.failed"]}`, "body.url"},
		{`{"url": "http://localhost:8080/hook", "event_types": ["run.failed"]}`, "body.url"},
		{`{"url": "http://[::1]/hook", "event_types": ["run.failed"]}`, "body.url"},
		{`{"url": "http://10.1.2.3/hook", "event_types": ["run.failed"]}`, "body.url"},
		{`{"url": "http://169.254.169.254/latest/meta-data", "event_types": ["run.failed"]}`, "body.url"},
		{`{"url": "ftp://example.com/x", "event_types": ["run.failed"]}`, "body.url"},
		{`{"url": "https://user:pw@93.184.216.34/x", "event_types": ["run.failed"]}`, "body.url"},
		{`{"url": "https://93.184.216.34/x", "event_types": []}`, "body.event_types"},
		{`{"url": "https://93.184.216.34/x", "event_types": ["run.exploded"]}`, "body.event_types[0]"},
		{`{"url": "https://93.184.216.34/x", "event_types": ["run.failed"], "tags": [""]}`, "body.tags[0]"},
	} {
		rec := send(h, "POST", "/v2/webhooks", tc.body)
		require.Equal(t, http.StatusUnprocessableEntity, rec.Code, "%s: %s", tc.body, rec.Body)
		require.Contains(t, rec.Body.String(), `"location":"`+tc.field+`"`, tc.body)
	}
	rec := send(h, "POST", "/v2/webhooks", `{"url": "https://93.184.216.34/hook", "event_types": ["run.failed", "run.failed"]}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var created api.WebhookCreated
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &created))
	require.True(t, strings.HasPrefix(created.Secret, "whsec_"))
	require.Equal(t, []string{"run.failed"}, created.EventTypes)
	// The secret is never shown again.
	rec = send(h, "GET", fmt.Sprintf("/v2/webhooks/%d", created.ID), "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.NotContains(t, rec.Body.String(), "whsec_")
	rec = send(h, "PATCH", fmt.Sprintf("/v2/webhooks/%d", created.ID), `{"url": "http://127.0.0.1/x"}`)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	require.Contains(t, rec.Body.String(), `"location":"body.url"`)
	require.Equal(t, http.StatusNotFound, send(h, "GET", "/v2/webhooks/999", "").Code)
	require.Equal(t, http.StatusNoContent, send(h, "DELETE", fmt.Sprintf("/v2/webhooks/%d", created.ID), "").Code)

	// With the allow flag, a loopback target is accepted.
	allowed := webhookServer(t, true)
	rec = send(allowed, "POST", "/v2/webhooks", `{"url": "http://127.0.0.1:9/hook", "event_types": ["run.failed"]}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
}

// TestWebhookTestEndpointReturnsTheAnswer: POST /v2/webhooks/{id}/test
// sends a signed sample event and answers with what the receiver said.
func TestWebhookTestEndpointReturnsTheAnswer(t *testing.T) {
	t.Parallel()
	h := webhookServer(t, true)
	var gotID string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotID = r.Header.Get("webhook-id")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"pong": true}`))
	}))
	t.Cleanup(receiver.Close)
	rec := send(h, "POST", "/v2/webhooks", `{"url": "`+receiver.URL+`", "event_types": ["run.failed"]}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var created api.WebhookCreated
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &created))

	rec = send(h, "POST", fmt.Sprintf("/v2/webhooks/%d/test", created.ID), "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var d api.WebhookDelivery
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &d))
	require.Equal(t, "succeeded", d.Status)
	require.Equal(t, webhook.TestEventType, d.EventType)
	require.Equal(t, gotID, d.MessageID)
	require.Len(t, d.Attempts, 1)
	require.Equal(t, http.StatusAccepted, *d.Attempts[0].StatusCode)
	require.Equal(t, `{"pong": true}`, d.Attempts[0].ResponseHead)

	rec = send(h, "GET", fmt.Sprintf("/v2/webhooks/%d/deliveries", created.ID), "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), `"response_head":"{\"pong\": true}"`)
}

// TestOpenAPIDocumentsWebhookEvents: the 3.1 document's webhooks section
// lists every event type with the WebhookEvent schema.
func TestOpenAPIDocumentsWebhookEvents(t *testing.T) {
	t.Parallel()
	doc := api.OpenAPI()
	for _, typ := range webhook.EventTypes() {
		item := doc.Webhooks[typ]
		require.NotNil(t, item, typ)
		require.Equal(t, "#/components/schemas/WebhookEvent", item.Post.RequestBody.Content["application/json"].Schema.Ref)
	}
	require.NotNil(t, doc.Components.Schemas.Map()["WebhookEvent"])
}

// TestBatchWithAnInvalidMemberIsRefused: POST /v2/batches with a bad member
// answers 422 naming body.members[i] and starts nothing.
func TestBatchWithAnInvalidMemberIsRefused(t *testing.T) {
	t.Parallel()
	h := webhookServer(t, false)
	rec := send(h, "POST", "/v1/task-types", `{"name": "noop", "executor": "sim"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	rec = send(h, "POST", "/v1/workflows", `{"name": "wf", "steps": [{"name": "a", "type": "noop"}]}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	rec = send(h, "POST", "/v2/batches", `{"members": [{"workflow": "wf"}, {"workflow": "ghost"}, {"workflow": "wf", "owner": "x"}]}`)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"location":"body.members[1]"`)
	require.Contains(t, rec.Body.String(), `unknown workflow \"ghost\"`)
	require.Equal(t, http.StatusUnprocessableEntity, send(h, "POST", "/v2/batches", `{"members": []}`).Code)
	require.Equal(t, http.StatusUnprocessableEntity, send(h, "POST", "/v2/batches", `{"members": [{"workflow": "wf", "priority": 7}]}`).Code)

	rec = send(h, "POST", "/v2/batches", `{"name": "two", "members": [{"workflow": "wf"}, {"workflow": "wf", "input": {"n": 1}}]}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var b api.Batch
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &b))
	require.Equal(t, 2, b.MembersTotal)
	require.Equal(t, http.StatusOK, send(h, "GET", fmt.Sprintf("/v2/batches/%d", b.ID), "").Code)
	require.Equal(t, http.StatusOK, send(h, "POST", fmt.Sprintf("/v2/batches/%d/cancel", b.ID), "").Code)
	require.Equal(t, http.StatusConflict, send(h, "POST", fmt.Sprintf("/v2/batches/%d/cancel", b.ID), "").Code)
	rec = send(h, "GET", fmt.Sprintf("/v2/batches/%d/wait?timeout=1", b.ID), "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), `"status":"cancelled"`)
	require.Equal(t, http.StatusNotFound, send(h, "GET", "/v2/batches/999", "").Code)
}

// TestSavedSearches: create, list, run and delete saved searches; the
// bookmark URLs carry the canonical query; bad queries name the parameter.
func TestSavedSearches(t *testing.T) {
	t.Parallel()
	h := webhookServer(t, false)
	require.Equal(t, http.StatusCreated, send(h, "POST", "/v1/task-types", `{"name": "noop", "executor": "sim"}`).Code)
	require.Equal(t, http.StatusCreated, send(h, "POST", "/v1/workflows", `{"name": "wf", "steps": [{"name": "a", "type": "noop"}]}`).Code)
	for range 3 {
		require.Equal(t, http.StatusCreated, send(h, "POST", "/v1/runs", `{"workflow": "wf", "tags": ["nightly"]}`).Code)
	}
	rec := send(h, "GET", "/v2/runs?status=exploded&sort=cost", "")
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"location":"query.status"`)
	rec = send(h, "GET", "/v2/runs?tags_all=nightly&limit=2", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var page api.RunSearchPage
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
	require.Len(t, page.Runs, 2)
	require.NotEmpty(t, page.NextCursor)
	rec = send(h, "POST", "/v2/runs/search", `{"params": {"tags_all": "nightly", "limit": "2", "cursor": "`+page.NextCursor+`"}}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
	require.Len(t, page.Runs, 1)

	rec = send(h, "POST", "/v2/saved-searches", `{"name": "nightly", "query": "tags_all=nightly&workflow=wf", "shared": true}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var saved api.SavedSearch
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &saved))
	require.Equal(t, "/runs?tags_all=nightly&workflow=wf", saved.DashboardURL)
	require.Equal(t, "/v2/runs?tags_all=nightly&workflow=wf", saved.APIURL)
	rec = send(h, "POST", "/v2/saved-searches", `{"name": "bad", "query": "priority=9"}`)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	require.Contains(t, rec.Body.String(), `"location":"body.query.priority"`)
	rec = send(h, "GET", "/v2/saved-searches", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), `"name":"nightly"`)
	rec = send(h, "GET", fmt.Sprintf("/v2/saved-searches/%d/runs", saved.ID), "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var result api.SavedSearchResult
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &result))
	require.Len(t, result.Page.Runs, 3)
	// The bookmark's query string gives the same runs.
	rec = send(h, "GET", saved.APIURL, "")
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
	require.Equal(t, result.Page.Runs, page.Runs)
	require.Equal(t, http.StatusNoContent, send(h, "DELETE", fmt.Sprintf("/v2/saved-searches/%d", saved.ID), "").Code)
	require.Equal(t, http.StatusNotFound, send(h, "GET", fmt.Sprintf("/v2/saved-searches/%d/runs", saved.ID), "").Code)
}

// TestWorkflowSummaries: GET /v2/workflows lists every workflow (as v1's
// list) with its outcomes; one without finished runs has no success rate
// and sorts last by success rate.
func TestWorkflowSummaries(t *testing.T) {
	t.Parallel()
	h := webhookServer(t, false)
	require.Equal(t, http.StatusCreated, send(h, "POST", "/v1/task-types", `{"name": "noop", "executor": "sim"}`).Code)
	for _, wf := range []string{"alpha", "beta"} {
		require.Equal(t, http.StatusCreated, send(h, "POST", "/v1/workflows",
			`{"name": "`+wf+`", "owner": "team-`+wf+`", "steps": [{"name": "a", "type": "noop"}]}`).Code)
	}
	rec := send(h, "POST", "/v1/runs", `{"workflow": "beta"}`)
	require.Equal(t, http.StatusCreated, rec.Code)
	var run api.Run
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &run))
	require.Equal(t, http.StatusOK, send(h, "POST", fmt.Sprintf("/v1/runs/%d/cancel", run.ID), "").Code)

	for _, tc := range []struct{ query, first string }{{"", "alpha"}, {"?sort=success_rate", "beta"}} {
		rec = send(h, "GET", "/v2/workflows"+tc.query, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var list api.WorkflowSummaryList
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
		require.Len(t, list.Workflows, 2)
		require.Equal(t, tc.first, list.Workflows[0].Name, tc.query)
		for _, wf := range list.Workflows {
			require.Equal(t, "team-"+wf.Name, wf.Owner)
			require.Equal(t, 1, wf.Steps)
			if wf.Name == "beta" {
				require.Equal(t, api.WorkflowOutcomes{Finished: 1, Cancelled: 1, SuccessRate: new(0.0)}, wf.Outcomes)
			} else {
				require.Equal(t, api.WorkflowOutcomes{}, wf.Outcomes)
			}
		}
	}
	requireStatus := send(h, "GET", "/v2/workflows?sort=popularity", "")
	require.Equal(t, http.StatusUnprocessableEntity, requireStatus.Code)
}
