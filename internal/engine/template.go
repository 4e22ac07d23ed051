package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"text/template"
	"text/template/parse"
)

// TemplateData is what step params are rendered with.
type TemplateData struct {
	// Input is the run's input, available as .input.
	Input map[string]any

	// Steps holds the results of the steps finished so far, by step name,
	// available as .steps.NAME.output and .steps.NAME.status.
	Steps map[string]StepResult
}

// StepResult is what a template sees of a finished step.
type StepResult struct {
	// Output is the step's output: a value decoded from JSON, or a
	// json.RawMessage.
	Output any

	// Status is the step's final status, such as "succeeded".
	Status string
}

// tmplCaptureFunc is the name of the function RenderParams appends to a
// single-action template to capture the action's value with its type.
const tmplCaptureFunc = "batonCaptureValue_"

// tmplName is the name templates are parsed under; it shows in their errors.
const tmplName = "param"

// tmplFuncs returns the functions available to param templates, spending
// from b (nil: no limits). capture receives the value of a single-action
// template; nil ignores it. Besides text/template's built-ins (but call,
// refused by tmplCheckTree), templates can use:
//
//   - json marshals its argument to a JSON string.
//   - default returns its first argument when the second is missing or empty
//     (nil, false, 0, "" or an empty list or map), the second otherwise:
//     {{ .input.region | default "eu" }}. A key missing from a map is an error
//     before default runs; use index to read a key that may be missing:
//     {{ index .input "region" | default "eu" }}.
func tmplFuncs(b *tmplBudget, capture func(any)) template.FuncMap {
	funcs := tmplGuardFuncs(b)
	funcs["json"] = func(v any) (string, error) {
		if err := b.step(1); err != nil {
			return "", err
		}
		out, err := specMarshal(v)
		if err != nil {
			return "", err
		}
		return string(out), nil
	}
	funcs["default"] = func(def any, given ...any) (any, error) {
		if err := b.step(1); err != nil {
			return nil, err
		}
		if len(given) == 0 || tmplIsEmpty(given[0]) {
			return def, nil
		}
		return given[0], nil
	}
	funcs[tmplCaptureFunc] = func(v any) string {
		if capture != nil {
			capture(v)
		}
		return ""
	}
	return funcs
}

// tmplIsEmpty reports whether v is nil or the zero value of its type, or an
// empty list, map or string.
func tmplIsEmpty(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return rv.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return rv.IsNil()
	default:
		return rv.IsZero()
	}
}

// ParamsNeedRender reports whether any string in params contains "{{", so
// that params without templates can skip RenderParams. It may report true for
// a key containing "{{", which only costs a render.
func ParamsNeedRender(params json.RawMessage) bool {
	if bytes.Contains(params, []byte("{{")) {
		return true
	}
	// A brace may hide behind a JSON escape (\u007b); decode to be sure.
	if !bytes.Contains(params, []byte(`\u007b`)) && !bytes.Contains(params, []byte(`\u007B`)) {
		return false
	}
	value, err := tmplDecodeJSON(params)
	if err != nil {
		return false
	}
	need := false
	tmplWalkStrings(value, func(s string) {
		need = need || strings.Contains(s, "{{")
	})
	return need
}

// tmplWalkStrings calls fn for every string value in v.
func tmplWalkStrings(v any, fn func(string)) {
	switch v := v.(type) {
	case string:
		fn(v)
	case map[string]any:
		for _, child := range v {
			tmplWalkStrings(child, fn)
		}
	case []any:
		for _, child := range v {
			tmplWalkStrings(child, fn)
		}
	}
}

// RenderParams renders every string value of params (recursively through
// objects and arrays) that contains "{{" as a text/template with the data
// {"input": data.Input, "steps": {NAME: {"output": ..., "status": ...}}} and
// the option missingkey=error. A string that is exactly one action, such as
// "{{ .steps.build.output.count }}", keeps the JSON type of its value
// (number, boolean, object, list or null); anything else renders to a
// string. Templates can use the functions json and default and
// text/template's built-ins but call; define, block and template are
// refused. Errors name the param, as in `params.url: template: ...`. Object
// keys of the result are sorted.
//
// Rendering is bounded: the rendered strings total at most 1 MiB, range
// iterates over lists and objects only (never a number), and range
// iterations plus function calls number at most 100,000. Rendering stops
// when ctx is done or after 5 seconds. A template breaking a rule or a limit
// fails with an error naming the param and the limit.
func RenderParams(ctx context.Context, params json.RawMessage, data TemplateData) (json.RawMessage, error) {
	if specIsNull(params) {
		return params, nil
	}
	value, err := tmplDecodeJSON(params)
	if err != nil {
		return nil, fmt.Errorf("params: invalid JSON: %w", err)
	}
	templateData, err := tmplDataMap(data)
	if err != nil {
		return nil, err
	}
	return renderValue(ctx, value, templateData, "params")
}

// RenderJSON renders the template strings of value, a JSON object or other
// JSON value, with data (its values normalized through JSON, numbers as
// json.Number) under the bounds of RenderParams; errors name path (such as
// "input_template"). Triggers render a run's input from an event with it.
func RenderJSON(ctx context.Context, value json.RawMessage, data map[string]any, path string) (json.RawMessage, error) {
	if specIsNull(value) {
		return value, nil
	}
	decoded, err := tmplDecodeJSON(value)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %w", path, err)
	}
	templateData := make(map[string]any, len(data))
	for k, v := range data {
		n, err := tmplNormalize(v)
		if err != nil {
			return nil, fmt.Errorf("template data %s: %w", k, err)
		}
		templateData[k] = n
	}
	return renderValue(ctx, decoded, templateData, path)
}

// renderValue renders the template strings of a decoded value with data.
func renderValue(ctx context.Context, value any, templateData map[string]any, path string) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, tmplMaxDuration,
		&tmplGuardError{msg: fmt.Sprintf("template rendering exceeds %s", tmplMaxDuration)})
	defer cancel()
	r := &tmplRenderer{data: templateData, budget: newTmplBudget(ctx)}
	r.funcs = tmplFuncs(r.budget, func(v any) { r.captured = v })

	rendered, err := r.render(value, path)
	if err != nil {
		return nil, err
	}
	out, err := specMarshal(rendered)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// tmplRenderer renders the strings of one params value.
type tmplRenderer struct {
	data     map[string]any
	funcs    template.FuncMap
	budget   *tmplBudget
	captured any
}

// render returns v with its template strings rendered; path names v in
// errors.
func (r *tmplRenderer) render(v any, path string) (any, error) {
	switch v := v.(type) {
	case string:
		if !strings.Contains(v, "{{") {
			return v, nil
		}
		return r.renderString(v, path)
	case map[string]any:
		out := make(map[string]any, len(v))
		for _, key := range specSortedKeys(v) {
			rendered, err := r.render(v[key], path+tmplKeyPath(key))
			if err != nil {
				return nil, err
			}
			out[key] = rendered
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, child := range v {
			rendered, err := r.render(child, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = rendered
		}
		return out, nil
	default:
		return v, nil
	}
}

// renderString renders one template string.
func (r *tmplRenderer) renderString(s, path string) (any, error) {
	tmpl, err := template.New(tmplName).Funcs(r.funcs).Option("missingkey=error").Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := tmplCheckTree(tmpl); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}

	action := tmplSingleAction(tmpl.Tree)
	if action == nil {
		w := &tmplWriter{budget: r.budget}
		if err := r.execute(tmpl, w); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return w.out.String(), nil
	}

	// Pipe the action's value into the capture function so that it keeps its
	// type instead of being printed.
	action.Pipe.Cmds = append(action.Pipe.Cmds, tmplFuncCommand(tmpl.Tree, tmplCaptureFunc, action.Pos))
	r.captured = nil
	if err := r.execute(tmpl, &tmplWriter{budget: r.budget}); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if str, ok := r.captured.(string); ok {
		if err := r.budget.write(len(str)); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return str, nil
	}
	out, err := specMarshal(r.captured)
	if err != nil {
		return nil, fmt.Errorf("%s: value of type %T is not JSON: %w", path, r.captured, err)
	}
	if err := r.budget.write(len(out)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// execute runs tmpl, checked by tmplCheckTree, within the renderer's budget:
// its ranges are guarded first (see tmplGuardTree). A rule or limit broken
// during the execution is returned alone, without text/template's context.
func (r *tmplRenderer) execute(tmpl *template.Template, w *tmplWriter) (err error) {
	defer func() {
		// text/template recovers the panics of functions, not its own.
		if p := recover(); p != nil {
			err = fmt.Errorf("template: internal error: %v", p)
		}
	}()
	tmplGuardTree(tmpl.Tree)
	err = tmpl.Execute(w, r.data)
	if guard := (*tmplGuardError)(nil); errors.As(err, &guard) {
		return guard
	}
	return err
}

// tmplSingleAction returns the action of a template that is exactly one
// value-producing action, nil otherwise.
func tmplSingleAction(tree *parse.Tree) *parse.ActionNode {
	if tree == nil || tree.Root == nil || len(tree.Root.Nodes) != 1 {
		return nil
	}
	action, ok := tree.Root.Nodes[0].(*parse.ActionNode)
	if !ok || action.Pipe == nil || len(action.Pipe.Decl) > 0 {
		return nil
	}
	return action
}

// tmplDataMap builds the data templates are executed with. Values go
// through a JSON round trip with json.Number so that templates see JSON
// types only and integers print as written (1000000, not 1e+06).
func tmplDataMap(data TemplateData) (map[string]any, error) {
	input := any(map[string]any{})
	if data.Input != nil {
		var err error
		if input, err = tmplNormalize(data.Input); err != nil {
			return nil, fmt.Errorf("template input: %w", err)
		}
	}
	steps := make(map[string]any, len(data.Steps))
	for name, result := range data.Steps {
		output, err := tmplNormalize(result.Output)
		if err != nil {
			return nil, fmt.Errorf("output of step %q: %w", name, err)
		}
		steps[name] = map[string]any{"output": output, "status": result.Status}
	}
	return map[string]any{"input": input, "steps": steps}, nil
}

// tmplNormalize turns v into the values encoding/json decodes to, with
// numbers as json.Number.
func tmplNormalize(v any) (any, error) {
	var raw []byte
	switch v := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		if specIsNull(v) {
			return nil, nil
		}
		raw = v
	default:
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return nil, err
		}
	}
	return tmplDecodeJSON(raw)
}

// tmplDecodeJSON decodes JSON into generic values, numbers as json.Number.
func tmplDecodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return v, nil
}

// tmplIdentPattern matches keys that can follow a dot in a param path.
var tmplIdentPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// tmplKeyPath renders an object key as a path element: ".url", or
// `["a key"]` for keys that are not identifiers.
func tmplKeyPath(key string) string {
	if tmplIdentPattern.MatchString(key) {
		return "." + key
	}
	return fmt.Sprintf("[%q]", key)
}

// tmplCheckParams checks every template string in v (decoded params; path
// names it) for syntax and references and adds a problem per fault. step is
// the name of the step owning the params. stepRef tells whether a step
// exists and is upstream of that step; nil accepts every step reference.
func tmplCheckParams(v any, path, step string, stepRef func(name string) (known, upstream bool), problems *specProblems) {
	switch v := v.(type) {
	case string:
		if !strings.Contains(v, "{{") {
			return
		}
		tmpl, err := template.New(tmplName).Funcs(tmplFuncs(nil, nil)).Parse(v)
		if err != nil {
			problems.add(path, "%s", err.Error())
			return
		}
		if err := tmplCheckTree(tmpl); err != nil {
			problems.add(path, "%s", err.Error())
			return
		}
		seen := map[string]bool{}
		for _, ref := range tmplFieldRefs(tmpl.Tree) {
			text := "." + strings.Join(ref, ".")
			if seen[text] {
				continue
			}
			seen[text] = true
			if msg := tmplCheckRef(ref, step, stepRef); msg != "" {
				problems.add(path, "%s: %s", text, msg)
			}
		}
	case map[string]any:
		for _, key := range specSortedKeys(v) {
			tmplCheckParams(v[key], path+tmplKeyPath(key), step, stepRef, problems)
		}
	case []any:
		for i, child := range v {
			tmplCheckParams(child, fmt.Sprintf("%s[%d]", path, i), step, stepRef, problems)
		}
	}
}

// tmplCheckRef checks one reference (a field chain from the root of the
// template data) and returns what is wrong with it, or "".
func tmplCheckRef(ref []string, step string, stepRef func(name string) (known, upstream bool)) string {
	switch ref[0] {
	case "input":
		return ""
	case "steps":
		if len(ref) == 1 || stepRef == nil {
			return ""
		}
		name := ref[1]
		switch known, upstream := stepRef(name); {
		case !known:
			return fmt.Sprintf("unknown step %q", name)
		case !upstream:
			return fmt.Sprintf("step %q is not upstream of step %q; add it to depends_on (directly or through another step)", name, step)
		}
		if len(ref) > 2 {
			switch ref[2] {
			case "output":
			case "status":
				if len(ref) > 3 {
					return fmt.Sprintf("status of step %q is a string and has no field %q", name, ref[3])
				}
			default:
				return fmt.Sprintf("step %q has no field %q; expected output or status", name, ref[2])
			}
		}
		return ""
	default:
		return fmt.Sprintf("unknown field %q; templates can use .input and .steps", ref[0])
	}
}

// tmplFieldRefs returns the field chains a template reads from the root of
// its data: .input.x, $.steps.a.output, and index .steps "a" "output". Fields
// read inside with and range, where dot is not the root, are not included.
func tmplFieldRefs(tree *parse.Tree) [][]string {
	var refs [][]string
	var walk func(node parse.Node, dotIsRoot bool)
	var walkPipe func(pipe *parse.PipeNode, dotIsRoot bool)
	var walkArg func(arg parse.Node, dotIsRoot bool)

	walkArg = func(arg parse.Node, dotIsRoot bool) {
		switch arg := arg.(type) {
		case *parse.FieldNode:
			if dotIsRoot {
				refs = append(refs, arg.Ident)
			}
		case *parse.VariableNode:
			if arg.Ident[0] == "$" && len(arg.Ident) > 1 {
				refs = append(refs, arg.Ident[1:])
			}
		case *parse.ChainNode:
			walkArg(arg.Node, dotIsRoot)
		case *parse.PipeNode:
			walkPipe(arg, dotIsRoot)
		}
	}

	walkPipe = func(pipe *parse.PipeNode, dotIsRoot bool) {
		if pipe == nil {
			return
		}
		for _, cmd := range pipe.Cmds {
			for _, arg := range cmd.Args {
				walkArg(arg, dotIsRoot)
			}
			if ref := tmplIndexRef(cmd, dotIsRoot); ref != nil {
				refs = append(refs, ref)
			}
		}
	}

	walk = func(node parse.Node, dotIsRoot bool) {
		switch node := node.(type) {
		case *parse.ListNode:
			if node == nil {
				return
			}
			for _, child := range node.Nodes {
				walk(child, dotIsRoot)
			}
		case *parse.ActionNode:
			walkPipe(node.Pipe, dotIsRoot)
		case *parse.IfNode:
			walkPipe(node.Pipe, dotIsRoot)
			walk(node.List, dotIsRoot)
			walk(node.ElseList, dotIsRoot)
		case *parse.WithNode:
			walkPipe(node.Pipe, dotIsRoot)
			walk(node.List, false)
			walk(node.ElseList, dotIsRoot)
		case *parse.RangeNode:
			walkPipe(node.Pipe, dotIsRoot)
			walk(node.List, false)
			walk(node.ElseList, dotIsRoot)
		case *parse.TemplateNode:
			walkPipe(node.Pipe, dotIsRoot)
		}
	}

	if tree != nil {
		walk(tree.Root, true)
	}
	return refs
}

// tmplIndexRef recognizes `index .steps "NAME" "output" ...` (or $.steps)
// and returns the chain it reads, such as [steps NAME output].
func tmplIndexRef(cmd *parse.CommandNode, dotIsRoot bool) []string {
	if len(cmd.Args) < 3 {
		return nil
	}
	if ident, ok := cmd.Args[0].(*parse.IdentifierNode); !ok || ident.Ident != "index" {
		return nil
	}
	var base []string
	switch arg := cmd.Args[1].(type) {
	case *parse.FieldNode:
		if dotIsRoot {
			base = arg.Ident
		}
	case *parse.VariableNode:
		if arg.Ident[0] == "$" {
			base = arg.Ident[1:]
		}
	}
	if len(base) != 1 || base[0] != "steps" {
		return nil
	}
	ref := []string{"steps"}
	for _, arg := range cmd.Args[2:] {
		str, ok := arg.(*parse.StringNode)
		if !ok {
			break
		}
		ref = append(ref, str.Text)
	}
	if len(ref) == 1 {
		return nil
	}
	return ref
}
