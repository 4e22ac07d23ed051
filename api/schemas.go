package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/specschema"
)

// tagSchemas groups the definition-file schema operations.
const tagSchemas = "Schemas"

type schemaInput struct {
	Kind string `path:"kind" maxLength:"32" doc:"The definition kind: task_type, workflow, schedule or trigger." example:"workflow"`
}

type schemaOutput struct {
	ContentType string          `header:"Content-Type"`
	Body        json.RawMessage `doc:"A JSON Schema (draft 2020-12) of the kind's YAML or JSON definition documents."`
}

func registerSchemas(api huma.API, h *handlers) {
	huma.Register(api, huma.Operation{
		OperationID: "get-schema", Method: http.MethodGet, Path: "/schemas/{kind}",
		Summary: "Get the JSON Schema of a definition kind",
		Description: "The JSON Schema (draft 2020-12) that `baton apply` checks documents of this kind against, " +
			"for editors and CI. The same schemas are committed under api/schemas/. An unknown kind is a 422 listing the valid ones.",
		Tags: []string{tagSchemas}, Errors: errorStatuses(http.StatusUnprocessableEntity),
	}, h.getSchema)
}

func (h *handlers) getSchema(_ context.Context, in *schemaInput) (*schemaOutput, error) {
	data, err := specschema.Schema(in.Kind)
	if err != nil {
		valid := strings.Join(specschema.Kinds(), ", ")
		return nil, huma.Error422UnprocessableEntity("unknown kind; valid kinds are "+valid,
			&huma.ErrorDetail{Location: "path.kind", Message: "must be one of " + valid, Value: in.Kind})
	}
	return &schemaOutput{ContentType: "application/schema+json", Body: data}, nil
}
