package executor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// FieldError is a problem with one field of a step's params.
type FieldError struct {
	// Field is the path of the field, such as "params.url" or
	// "params.headers.Accept".
	Field string

	// Message says what is wrong, such as "required".
	Message string
}

// Error returns "field: message".
func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// ValidationError lists every problem found in a step's params.
type ValidationError struct {
	// Fields holds one entry per problem, in the order they were found.
	Fields []*FieldError
}

// Error joins the field errors with "; ".
func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap returns the field errors, so errors.As finds the first of them.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Fields))
	for i, f := range e.Fields {
		errs[i] = f
	}
	return errs
}

// isTemplate reports whether s holds a Go template action.
func isTemplate(s string) bool { return strings.Contains(s, "{{") }

// paramReader reads the fields of a params object one by one, collecting a
// FieldError for each problem so that all of them are reported at once.
type paramReader struct {
	fields map[string]json.RawMessage

	// templates accepts a template string as the value of any field, and
	// skips the checks of its content (Validate). The engine renders a string
	// that is exactly one action to the JSON type of its value, so a template
	// may stand for a number, list or object as well as a string. Execute
	// sees rendered params and checks everything.
	templates bool

	// broken is set when params are not a JSON object: the fields are not
	// checked then, since they cannot be read.
	broken bool

	errs []*FieldError
}

// newParamReader parses params as a JSON object (empty or null params read as
// an empty object) and reports every field not in known.
func newParamReader(params json.RawMessage, templates bool, known ...string) *paramReader {
	r := &paramReader{fields: map[string]json.RawMessage{}, templates: templates}

	trimmed := bytes.TrimSpace(params)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return r
	}
	if r.dynamic(trimmed) {
		// The whole params object comes from a template: nothing to check
		// until it is rendered.
		r.broken = true
		return r
	}
	if trimmed[0] != '{' {
		r.fail("params", "must be a JSON object")
		r.broken = true
		return r
	}
	if err := json.Unmarshal(trimmed, &r.fields); err != nil {
		r.fail("params", "invalid JSON: "+err.Error())
		r.broken = true
		return r
	}

	var unknown []string
	for name := range r.fields {
		if !contains(known, name) {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		r.fail("params."+name, "unknown field")
	}
	return r
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (r *paramReader) fail(field, msg string) {
	if r.broken {
		return
	}
	r.errs = append(r.errs, &FieldError{Field: field, Message: msg})
}

// err returns a *ValidationError holding every problem found, or nil.
func (r *paramReader) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	return &ValidationError{Fields: r.errs}
}

// raw returns a field's JSON, or nil when it is absent or null.
func (r *paramReader) raw(name string) json.RawMessage {
	v, ok := r.fields[name]
	if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return nil
	}
	return v
}

// str reads a string field. ok is false when it is absent or invalid.
func (r *paramReader) str(name string, required bool) (s string, ok bool) {
	v := r.raw(name)
	if v == nil {
		if required {
			r.fail("params."+name, "required")
		}
		return "", false
	}
	if err := json.Unmarshal(v, &s); err != nil {
		r.fail("params."+name, "must be a string")
		return "", false
	}
	return s, true
}

// template reports whether s is a template to be accepted as is.
func (r *paramReader) template(s string) bool { return r.templates && isTemplate(s) }

// dynamic reports whether v is a template string to be accepted in place of
// a value of any type.
func (r *paramReader) dynamic(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	if !r.templates || len(v) == 0 || v[0] != '"' {
		return false
	}
	var s string
	return json.Unmarshal(v, &s) == nil && isTemplate(s)
}

// duration reads a Go duration string ("1.5s"). ok is false when it is
// absent, invalid or a template.
func (r *paramReader) duration(name string, required bool) (d time.Duration, ok bool) {
	s, ok := r.str(name, required)
	if !ok || r.template(s) {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		r.fail("params."+name, fmt.Sprintf("invalid duration %q", s))
		return 0, false
	}
	if d < 0 {
		r.fail("params."+name, fmt.Sprintf("must not be negative, got %q", s))
		return 0, false
	}
	return d, true
}

// fraction reads a number in [0, 1].
func (r *paramReader) fraction(name string) (f float64, ok bool) {
	v := r.raw(name)
	if v == nil || r.dynamic(v) {
		return 0, false
	}
	if err := json.Unmarshal(v, &f); err != nil {
		r.fail("params."+name, "must be a number between 0 and 1")
		return 0, false
	}
	if f < 0 || f > 1 {
		r.fail("params."+name, fmt.Sprintf("must be between 0 and 1, got %v", f))
		return 0, false
	}
	return f, true
}

// stringList reads an array of strings.
func (r *paramReader) stringList(name string) []string {
	v := r.raw(name)
	if v == nil || r.dynamic(v) {
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		r.fail("params."+name, "must be an array of strings")
		return nil
	}
	out := make([]string, len(items))
	for i, item := range items {
		if err := json.Unmarshal(item, &out[i]); err != nil || bytes.Equal(bytes.TrimSpace(item), []byte("null")) {
			r.fail(fmt.Sprintf("params.%s[%d]", name, i), "must be a string")
		}
	}
	return out
}

// stringMap reads an object whose values are strings. checkKey, when not
// nil, returns what is wrong with a key, or "".
func (r *paramReader) stringMap(name string, checkKey func(string) string) map[string]string {
	v := r.raw(name)
	if v == nil || r.dynamic(v) {
		return nil
	}
	var items map[string]json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		r.fail("params."+name, "must be an object of strings")
		return nil
	}
	keys := make([]string, 0, len(items))
	for k := range items {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	out := make(map[string]string, len(items))
	for _, k := range keys {
		if checkKey != nil && !r.template(k) {
			if msg := checkKey(k); msg != "" {
				r.fail("params."+name+"."+k, msg)
			}
		}
		var s string
		if err := json.Unmarshal(items[k], &s); err != nil || bytes.Equal(bytes.TrimSpace(items[k]), []byte("null")) {
			r.fail("params."+name+"."+k, "must be a string")
			continue
		}
		out[k] = s
	}
	return out
}
