package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGetSchema: GET /v1/schemas/workflow returns the committed workflow
// schema (draft 2020-12) as application/schema+json.
func TestGetSchema(t *testing.T) {
	h := newHandler(t)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/schemas/workflow", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "application/schema+json", rec.Header().Get("Content-Type"))
	var got, want map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	committed, err := os.ReadFile("schemas/workflow.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(committed, &want))
	require.Equal(t, want, got)
	require.Equal(t, "https://json-schema.org/draft/2020-12/schema", got["$schema"])
}

// TestGetSchemaUnknownKind: an unknown kind is a 422 naming path.kind and
// listing the valid kinds.
func TestGetSchemaUnknownKind(t *testing.T) {
	h := newHandler(t)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/schemas/cronjob", nil))
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), "schedule, task_type, trigger, workflow")
	require.Contains(t, rec.Body.String(), "path.kind")
}
