package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/api"
)

// TestVersionDocumentsValidate validates each version's document, in its
// 3.1 and 3.0 forms, with an independent validator (kin-openapi), and
// checks what access control adds to them.
func TestVersionDocumentsValidate(t *testing.T) {
	t.Parallel()
	h, _ := api.New(api.Options{})
	for _, path := range []string{"/v1/openapi.json", "/v1/openapi-3.0.json", "/v2/openapi.json", "/v2/openapi-3.0.json", "/openapi.json"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		require.Equal(t, http.StatusOK, rec.Code, path)
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(rec.Body.Bytes())
		require.NoError(t, err, path)
		var opts []openapi3.ValidationOption
		if strings.Contains(path, "3.0") {
			// Huma's Downgrade renames every "examples" key, properties of
			// example bodies included (analytics' error groups have one), so
			// the 3.0 forms' examples are checked in their 3.1 originals.
			opts = append(opts, openapi3.DisableExamplesValidation())
		}
		require.NoError(t, doc.Validate(context.Background(), opts...), path)

		require.Contains(t, doc.Components.SecuritySchemes, "bearerAuth", path)
		get := doc.Paths.Find(map[string]string{"/v1/openapi.json": "/v1/runs/{id}", "/v1/openapi-3.0.json": "/v1/runs/{id}",
			"/openapi.json": "/v2/runs/{id}"}[path])
		if get == nil {
			get = doc.Paths.Find("/v2/runs/{id}")
		}
		require.NotNil(t, get, path)
		for _, status := range []int{401, 403, 429} {
			require.NotNil(t, get.Get.Responses.Status(status), "%s: %d", path, status)
		}
		require.NotEmpty(t, *get.Get.Security, path)
		require.Contains(t, get.Get.Responses.Status(200).Value.Headers, "RateLimit-Remaining", path)
		health := doc.Paths.Find("/healthz")
		require.NotNil(t, health, path)
		require.Nil(t, health.Get.Security, path)
	}
}
