package api

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/danielgtaylor/huma/v2"
)

// JSONObject is a JSON object kept as its raw bytes, so that numbers and
// nested values pass through exactly. The OpenAPI document describes it as
// an object with any properties; Huma validates request values against that
// before they are decoded.
type JSONObject json.RawMessage

// Schema describes JSONObject in the OpenAPI document.
func (JSONObject) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeObject, AdditionalProperties: true}
}

// MarshalJSON returns the raw object, or {} when it is empty.
func (o JSONObject) MarshalJSON() ([]byte, error) {
	if len(o) == 0 || bytes.Equal(o, []byte("null")) {
		return []byte("{}"), nil
	}
	return o, nil
}

// UnmarshalJSON keeps a copy of data, which must be a JSON object or null.
func (o *JSONObject) UnmarshalJSON(data []byte) error {
	trimmed := bytes.TrimSpace(data)
	if bytes.Equal(trimmed, []byte("null")) {
		*o = nil
		return nil
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return errors.New("must be a JSON object")
	}
	*o = append((*o)[:0], trimmed...)
	return nil
}

// raw returns the object as a json.RawMessage, nil when it is empty.
func (o JSONObject) raw() json.RawMessage {
	if len(o) == 0 {
		return nil
	}
	return json.RawMessage(o)
}
