package api

import (
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// documentExamples gives every JSON request and response body of doc that
// has none an example, assembled from its schema: each property's own
// example when it has one, else its default, first enum value, or a value
// of its type.
func documentExamples(doc *huma.OpenAPI) {
	schemas := doc.Components.Schemas.Map()
	add := func(content map[string]*huma.MediaType) {
		for ct, mt := range content {
			if mt == nil || mt.Schema == nil || mt.Example != nil || len(mt.Examples) > 0 {
				continue
			}
			if ct != "application/json" && ct != "application/problem+json" {
				continue
			}
			if ex := exampleOf(mt.Schema, schemas, 0); ex != nil {
				mt.Example = ex
			}
		}
	}
	for _, item := range doc.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch} {
			if op == nil {
				continue
			}
			if op.RequestBody != nil {
				add(op.RequestBody.Content)
			}
			for _, resp := range op.Responses {
				add(resp.Content)
			}
		}
	}
}

// exampleOf builds an example value of s (nil when it cannot).
func exampleOf(s *huma.Schema, schemas map[string]*huma.Schema, depth int) any {
	if s == nil || depth > 6 {
		return nil
	}
	if s.Ref != "" {
		return exampleOf(schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")], schemas, depth+1)
	}
	switch {
	case len(s.Examples) > 0:
		return s.Examples[0]
	case s.Default != nil:
		return s.Default
	case len(s.Enum) > 0:
		return s.Enum[0]
	}
	typ := s.Type
	if typ == "" && len(s.OneOf) > 0 {
		return exampleOf(s.OneOf[0], schemas, depth+1)
	}
	switch typ {
	case huma.TypeObject:
		out := map[string]any{}
		for name, prop := range s.Properties {
			if v := exampleOf(prop, schemas, depth+1); v != nil {
				out[name] = v
			}
		}
		for _, name := range s.Required {
			if _, ok := out[name]; !ok {
				return nil // better no example than a wrong one
			}
		}
		return out
	case huma.TypeArray:
		if v := exampleOf(s.Items, schemas, depth+1); v != nil {
			return []any{v}
		}
		if s.MinItems != nil && *s.MinItems > 0 {
			return nil // an empty list would be refused
		}
		return []any{}
	case huma.TypeString:
		switch s.Format {
		case "date-time":
			return "2026-12-01T12:00:00Z"
		case "date":
			return "2026-12-01"
		case "uri":
			return "https://example.com/"
		}
		if s.Pattern != "" || s.MinLength != nil {
			return nil // a made-up value might not match
		}
		return "string"
	case huma.TypeInteger:
		if s.Minimum != nil {
			return int64(*s.Minimum)
		}
		return 1
	case huma.TypeNumber:
		if s.Minimum != nil {
			return *s.Minimum
		}
		return 1.5
	case huma.TypeBoolean:
		return false
	}
	return nil
}
