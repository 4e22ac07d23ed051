package api

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/engine"
)

// checkInput returns one 422 error detail per value of an operation's input
// that PostgreSQL could not store: strings that are not valid UTF-8 or hold
// a NUL character, in path, query and header parameters and anywhere in the
// body, and JSON objects in the body that are not valid UTF-8, hold a
// \u0000 escape, or nest deeper than engine.MaxJSONDepth. Each detail is
// located as Huma locates its own: "path.name", "header.X-Baton-Actor",
// "body.steps[0].params". Input structs call it from their Resolve method,
// which Huma runs after parsing and schema validation.
func checkInput(input any) []error {
	var errs []error
	v := reflect.Indirect(reflect.ValueOf(input))
	t := v.Type()
	for i := range t.NumField() {
		field := t.Field(i)
		var location string
		switch {
		case field.Name == "Body":
			location = "body"
		case field.Tag.Get("path") != "":
			location = "path." + field.Tag.Get("path")
		case field.Tag.Get("query") != "":
			location = "query." + field.Tag.Get("query")
		case field.Tag.Get("header") != "":
			location = "header." + field.Tag.Get("header")
		default:
			continue
		}
		errs = checkValue(errs, location, v.Field(i))
	}
	return errs
}

var jsonObjectType = reflect.TypeFor[JSONObject]()

// checkValue appends the problems of v, found at location, to errs.
func checkValue(errs []error, location string, v reflect.Value) []error {
	if v.Type() == jsonObjectType {
		if err := engine.CheckJSON(v.Bytes(), 0); err != nil {
			errs = append(errs, &huma.ErrorDetail{Location: location, Message: err.Error()})
		}
		return errs
	}
	switch v.Kind() {
	case reflect.String:
		if err := engine.CheckText(v.String()); err != nil {
			errs = append(errs, &huma.ErrorDetail{Location: location, Message: err.Error()})
		}
	case reflect.Pointer:
		if !v.IsNil() {
			errs = checkValue(errs, location, v.Elem())
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return errs // raw bytes, such as json.RawMessage
		}
		for i := range v.Len() {
			errs = checkValue(errs, fmt.Sprintf("%s[%d]", location, i), v.Index(i))
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			field := t.Field(i)
			name, _, _ := strings.Cut(field.Tag.Get("json"), ",")
			if !field.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = field.Name
			}
			errs = checkValue(errs, location+"."+name, v.Field(i))
		}
	}
	return errs
}

// Resolve methods: every input with a string, in a parameter or in the
// body, is checked by checkInput.

func (in *startRunInput) Resolve(huma.Context) []error        { return checkInput(in) }
func (in *listRunsInput) Resolve(huma.Context) []error        { return checkInput(in) }
func (in *runActionInput) Resolve(huma.Context) []error       { return checkInput(in) }
func (in *taskActionInput) Resolve(huma.Context) []error      { return checkInput(in) }
func (in *retryTaskInput) Resolve(huma.Context) []error       { return checkInput(in) }
func (in *applyWorkflowInput) Resolve(huma.Context) []error   { return checkInput(in) }
func (in *workflowNameInput) Resolve(huma.Context) []error    { return checkInput(in) }
func (in *workflowVersionInput) Resolve(huma.Context) []error { return checkInput(in) }
func (in *applyTaskTypeInput) Resolve(huma.Context) []error   { return checkInput(in) }
func (in *taskTypeNameInput) Resolve(huma.Context) []error    { return checkInput(in) }
func (in *breakerKeyInput) Resolve(huma.Context) []error      { return checkInput(in) }
func (in *forceBreakerInput) Resolve(huma.Context) []error    { return checkInput(in) }
func (in *queueNameInput) Resolve(huma.Context) []error       { return checkInput(in) }
func (in *deadLetterFilterInput) Resolve(huma.Context) []error {
	return checkInput(in)
}
func (in *deadLetterIDInput) Resolve(huma.Context) []error { return checkInput(in) }
func (in *resubmitInput) Resolve(huma.Context) []error     { return checkInput(in) }
func (in *bulkResubmitInput) Resolve(huma.Context) []error { return checkInput(in) }
