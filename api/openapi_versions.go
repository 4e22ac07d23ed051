package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/yaml"
	"github.com/go-chi/chi/v5"
)

// Security scheme names in the OpenAPI documents.
const (
	schemeBearer  = "bearerAuth"
	schemeSession = "sessionCookie"
)

// documentAccess adds the security schemes to doc and, to every operation
// that needs a role, its security requirement, the 401, 403 and 429
// answers and the rate-limit headers of its responses.
func documentAccess(doc *huma.OpenAPI) {
	if doc.Components.SecuritySchemes == nil {
		doc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{}
	}
	doc.Components.SecuritySchemes[schemeBearer] = &huma.SecurityScheme{
		Type: "http", Scheme: "bearer", BearerFormat: "baton_PREFIX_SECRET",
		Description: "An API key (`baton keys create`), sent as `Authorization: Bearer baton_...`. Roles: viewer reads; operator also starts, cancels, pauses, resumes, skips, retries and resubmits; admin also manages definitions, schedules, triggers, alerting and keys.",
	}
	doc.Components.SecuritySchemes[schemeSession] = &huma.SecurityScheme{
		Type: "apiKey", In: "cookie", Name: SessionCookie,
		Description: "The dashboard's session (POST /v2/sessions). State-changing requests must repeat the session's CSRF token in the X-Baton-CSRF header.",
	}
	rateHeaders := map[string]*huma.Param{
		"RateLimit-Policy":    {Description: "The caller's token bucket, IETF draft form: q is the most requests in a burst, w the window in seconds.", Schema: &huma.Schema{Type: huma.TypeString}, Example: `"key";q=120;w=60`},
		"RateLimit":           {Description: "Remaining requests (r) and seconds until the bucket is full (t), IETF draft form.", Schema: &huma.Schema{Type: huma.TypeString}, Example: `"key";r=119;t=1`},
		"RateLimit-Limit":     {Description: "The bucket's capacity (rate limit plus burst).", Schema: &huma.Schema{Type: huma.TypeInteger}, Example: 120},
		"RateLimit-Remaining": {Description: "Requests left now (an estimate across the cluster).", Schema: &huma.Schema{Type: huma.TypeInteger}, Example: 119},
		"RateLimit-Reset":     {Description: "Seconds until the bucket is full again.", Schema: &huma.Schema{Type: huma.TypeInteger}, Example: 1},
	}
	for path, item := range doc.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch, item.Head} {
			if op == nil {
				continue
			}
			role := requiredRole(op)
			if role == "" {
				if op.OperationID == "inbound-webhook" || op.OperationID == "v2-inbound-webhook" {
					op.Security = []map[string][]string{{}, {schemeBearer: {}}, {schemeSession: {}}}
				}
				continue
			}
			op.Security = []map[string][]string{{schemeBearer: {}}, {schemeSession: {}}}
			if op.Description != "" {
				op.Description += "\n\n"
			}
			op.Description += "Needs the **" + string(role) + "** role."
			template := op.Responses["500"]
			if template == nil {
				continue
			}
			for status, desc := range map[int]string{
				http.StatusUnauthorized:    "No credential, or an invalid, revoked or expired one.",
				http.StatusForbidden:       "The caller's role is not enough, a session's request lacks its CSRF token, or a cross-origin browser request.",
				http.StatusTooManyRequests: "The caller's rate limit (or, for a run start, daily run quota: type urn:baton:problem:quota-exceeded) is exceeded. Retry-After says when to retry.",
			} {
				key := strconv.Itoa(status)
				if _, ok := op.Responses[key]; ok {
					continue
				}
				resp := *template
				resp.Description = desc
				if status == http.StatusTooManyRequests {
					resp.Headers = map[string]*huma.Param{
						"Retry-After": {Description: "Seconds to wait.", Schema: &huma.Schema{Type: huma.TypeInteger}, Example: 3},
					}
				}
				op.Responses[key] = &resp
			}
			if strings.HasPrefix(path, "/v1/") || strings.HasPrefix(path, "/v2/") {
				for code, resp := range op.Responses {
					if !strings.HasPrefix(code, "2") {
						continue
					}
					if resp.Headers == nil {
						resp.Headers = map[string]*huma.Param{}
					}
					for name, p := range rateHeaders {
						resp.Headers[name] = p
					}
				}
			}
		}
	}
}

// versionDocument returns the OpenAPI document of one API version: the
// operations under /vN (operation ids without the "v2-" prefix) and the
// unversioned probes.
func versionDocument(doc *huma.OpenAPI, version string) *huma.OpenAPI {
	out := *doc
	info := *doc.Info
	info.Title = doc.Info.Title + " v" + version
	if version == "1" {
		info.Description += "\n\n**API v1 is deprecated** (every response carries Deprecation, Sunset and Link headers): see " + DeprecationPolicyURL + "."
	}
	out.Info = &info
	if version == "1" {
		out.Webhooks = nil // outbound webhooks are a v2 capability
	}
	out.Paths = map[string]*huma.PathItem{}
	prefix := "/v" + version + "/"
	for path, item := range doc.Paths {
		versioned := strings.HasPrefix(path, "/v1/") || strings.HasPrefix(path, "/v2/")
		if versioned && !strings.HasPrefix(path, prefix) {
			continue
		}
		copied := *item
		for _, op := range []**huma.Operation{&copied.Get, &copied.Put, &copied.Post, &copied.Delete, &copied.Patch, &copied.Head} {
			if *op == nil {
				continue
			}
			o := **op
			o.OperationID = strings.TrimPrefix(o.OperationID, "v2-")
			*op = &o
		}
		out.Paths[path] = &copied
	}
	return &out
}

// registerVersionDocuments serves /v1/openapi.json and /v2/openapi.json,
// their YAML, and their OpenAPI 3.0 forms (openapi-3.0.json, -3.0.yaml).
func registerVersionDocuments(router chi.Router, doc *huma.OpenAPI) {
	for _, version := range []string{"1", "2"} {
		document := sync.OnceValue(func() *huma.OpenAPI { return versionDocument(doc, version) })
		serve := func(contentType string, render func(*huma.OpenAPI) ([]byte, error)) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				body, err := render(document())
				if err != nil {
					writeProblem(w, http.StatusInternalServerError, "cannot render the OpenAPI document")
					return
				}
				w.Header().Set("Content-Type", contentType)
				_, _ = w.Write(body)
			}
		}
		prefix := "/v" + version
		router.Get(prefix+"/openapi.json", serve("application/vnd.oai.openapi+json", func(d *huma.OpenAPI) ([]byte, error) { return json.Marshal(d) }))
		router.Get(prefix+"/openapi.yaml", serve("application/vnd.oai.openapi", (*huma.OpenAPI).YAML))
		router.Get(prefix+"/openapi-3.0.json", serve("application/vnd.oai.openapi+json", downgrade))
		router.Get(prefix+"/openapi-3.0.yaml", serve("application/vnd.oai.openapi", downgradeYAML))
	}
}

// downgrade returns doc in OpenAPI 3.0 form: Huma's Downgrade, then what it
// leaves that 3.0 lacks: const (an enum of one), contentMediaType (dropped;
// the request body's media type says it) and the webhooks section (dropped:
// 3.0 cannot describe outbound webhooks; the 3.1 document does).
func downgrade(doc *huma.OpenAPI) ([]byte, error) {
	raw, err := doc.Downgrade()
	if err != nil {
		return nil, err
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	delete(v, "webhooks")
	return json.Marshal(strip31(v))
}

func downgradeYAML(doc *huma.OpenAPI) ([]byte, error) {
	raw, err := downgrade(doc)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := yaml.Convert(&buf, bytes.NewReader(raw)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func strip31(v any) any {
	switch value := v.(type) {
	case map[string]any:
		if c, ok := value["const"]; ok {
			delete(value, "const")
			value["enum"] = []any{c}
		}
		delete(value, "contentMediaType")
		for k, item := range value {
			value[k] = strip31(item)
		}
	case []any:
		for i, item := range value {
			value[i] = strip31(item)
		}
	}
	return v
}

// WriteVersionSpecs writes each version's document, in 3.1 and 3.0 form,
// to dir/v1 and dir/v2 (openapi.json, openapi-3.0.json), for client
// generators.
func WriteVersionSpecs(dir string) error {
	doc := OpenAPI()
	for _, version := range []string{"1", "2"} {
		vdoc := versionDocument(doc, version)
		full, err := json.MarshalIndent(vdoc, "", "  ")
		if err != nil {
			return fmt.Errorf("encode v%s document: %w", version, err)
		}
		old, err := downgrade(vdoc)
		if err != nil {
			return fmt.Errorf("downgrade v%s document: %w", version, err)
		}
		vdir := filepath.Join(dir, "v"+version)
		if err := os.MkdirAll(vdir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(vdir, "openapi.json"), append(full, '\n'), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(vdir, "openapi-3.0.json"), old, 0o644); err != nil {
			return err
		}
	}
	return nil
}
