package engine

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// Limits on rendering a task's params. text/template cannot be interrupted,
// so rendering is bounded from the inside: every write, every function call
// and every range iteration spends from a tmplBudget, which fails once a
// limit is reached or the render's context is done.
const (
	// tmplMaxOutput caps the text a task's params render to, all template
	// strings together (a value kept with its JSON type counts its JSON).
	tmplMaxOutput = 1 << 20

	// tmplMaxSteps caps the range iterations and function calls of one
	// render of a task's params. It also caps the length of what a range
	// may iterate over. The functions counted are those whose cost grows
	// with their arguments (json, default, print, printf, println, html, js,
	// urlquery); the others are cheap, and each of their call sites runs at
	// most once per range iteration.
	tmplMaxSteps = 100_000

	// tmplMaxDuration caps the time one render of a task's params may take,
	// whatever the deadline of its context.
	tmplMaxDuration = 5 * time.Second
)

// Names of the functions the renderer adds to a template's parse tree. They
// are not part of the documented function set, so templates cannot call them.
const (
	// tmplIterFunc is appended to every range pipeline: it lets lists and
	// objects through and refuses anything else, numbers in particular.
	tmplIterFunc = "batonRangeOver_"

	// tmplTickFunc is called at the start of every range iteration.
	tmplTickFunc = "batonRangeTick_"
)

// tmplAllowedFunc reports whether templates may call the function name:
// the json and default functions and text/template's built-ins but call,
// which would run functions taken from the data.
func tmplAllowedFunc(name string) bool {
	switch name {
	case "json", "default",
		"and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge",
		"len", "index", "slice", "print", "printf", "println", "html", "js", "urlquery":
		return true
	}
	return false
}

// tmplGuardError is a template that was refused or stopped because it broke
// a rule or reached a limit. Retrying does not help.
type tmplGuardError struct {
	msg string
	err error // the cause, such as a context's error; may be nil
}

func (e *tmplGuardError) Error() string {
	if e.err == nil {
		return e.msg
	}
	return e.msg + ": " + e.err.Error()
}

func (e *tmplGuardError) Unwrap() error { return e.err }

// tmplBudget is what is left of one render's limits. A nil budget has no
// limits (templates are parsed, never executed, when validating).
type tmplBudget struct {
	ctx    context.Context
	output int // bytes of output left
	steps  int // range iterations and function calls left
}

// newTmplBudget returns a full budget checking ctx.
func newTmplBudget(ctx context.Context) *tmplBudget {
	return &tmplBudget{ctx: ctx, output: tmplMaxOutput, steps: tmplMaxSteps}
}

// alive fails once the render's context is done.
func (b *tmplBudget) alive() error {
	if b.ctx.Err() == nil {
		return nil
	}
	cause := context.Cause(b.ctx)
	if guard, ok := cause.(*tmplGuardError); ok {
		return guard
	}
	return &tmplGuardError{msg: "template rendering interrupted", err: cause}
}

// step spends n steps.
func (b *tmplBudget) step(n int) error {
	if b == nil {
		return nil
	}
	if err := b.alive(); err != nil {
		return err
	}
	if n > b.steps {
		b.steps = 0
		return &tmplGuardError{msg: fmt.Sprintf("template exceeds %d steps (range iterations and function calls)", tmplMaxSteps)}
	}
	b.steps -= n
	return nil
}

// write spends n bytes of output.
func (b *tmplBudget) write(n int) error {
	if b == nil {
		return nil
	}
	if err := b.alive(); err != nil {
		return err
	}
	if n > b.output {
		b.output = 0
		return &tmplGuardError{msg: fmt.Sprintf("template output exceeds %d MiB", tmplMaxOutput>>20)}
	}
	b.output -= n
	return nil
}

// tmplWriter collects a template's output within a budget. text/template
// stops executing at the first failed write and returns its error.
type tmplWriter struct {
	budget *tmplBudget
	out    strings.Builder
}

// Write implements io.Writer.
func (w *tmplWriter) Write(p []byte) (int, error) {
	if err := w.budget.write(len(p)); err != nil {
		return 0, err
	}
	return w.out.Write(p)
}

// tmplGuardFuncs returns the functions that keep an execution within b: the
// built-ins whose cost grows with their arguments, wrapped to spend a step,
// call refused, and the range guards that tmplGuardTree inserts.
func tmplGuardFuncs(b *tmplBudget) template.FuncMap {
	escaper := func(escape func(...any) string) func(...any) (string, error) {
		return func(args ...any) (string, error) {
			if err := b.step(1); err != nil {
				return "", err
			}
			return escape(args...), nil
		}
	}
	return template.FuncMap{
		"print":   escaper(fmt.Sprint),
		"println": escaper(fmt.Sprintln),
		"printf": func(format string, args ...any) (string, error) {
			if err := b.step(1); err != nil {
				return "", err
			}
			return fmt.Sprintf(format, args...), nil
		},
		"html":     escaper(template.HTMLEscaper),
		"js":       escaper(template.JSEscaper),
		"urlquery": escaper(template.URLQueryEscaper),
		"call": func(...any) (any, error) {
			return nil, &tmplGuardError{msg: `function "call" is not allowed`}
		},
		tmplIterFunc: func(v any) (any, error) {
			return v, tmplCheckRangeValue(b, v)
		},
		tmplTickFunc: func() (string, error) {
			return "", b.step(1)
		},
	}
}

// tmplCheckRangeValue refuses to range over v unless it is nil, a list or an
// object with at most as many items as steps are left.
func tmplCheckRangeValue(b *tmplBudget, v any) error {
	if err := b.step(1); err != nil {
		return err
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Invalid:
		return nil
	case reflect.Slice, reflect.Array, reflect.Map:
		if rv.Len() > tmplMaxSteps {
			return &tmplGuardError{msg: fmt.Sprintf("range over %d items exceeds the limit of %d", rv.Len(), tmplMaxSteps)}
		}
		return nil
	}
	what := rv.Kind().String()
	if tmplIsNumber(v) {
		what = "a number"
	}
	return &tmplGuardError{msg: fmt.Sprintf("range over %s is not allowed; range over a list or an object", what)}
}

// tmplIsNumber reports whether v is a number (json.Number included).
func tmplIsNumber(v any) bool {
	if _, ok := v.(interface{ Int64() (int64, error) }); ok {
		return true
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// tmplCheckTree returns an error when tmpl uses what param templates may
// not: define, block or template (a template could call itself without
// end), a function outside the documented set (call in particular), or a
// range over a number literal or over len.
func tmplCheckTree(tmpl *template.Template) error {
	for _, t := range tmpl.Templates() {
		if t.Name() != tmplName {
			return fmt.Errorf("template: define, block and template are not allowed (found %q)", t.Name())
		}
	}
	tree := tmpl.Tree
	if tree == nil {
		return nil
	}
	refuse := func(node parse.Node, format string, args ...any) error {
		location, _ := tree.ErrorContext(node)
		return fmt.Errorf("template: %s: %s", location, fmt.Sprintf(format, args...))
	}
	var err error
	tmplInspect(tree.Root, func(node parse.Node) bool {
		switch node := node.(type) {
		case *parse.TemplateNode:
			err = refuse(node, "define, block and template are not allowed")
		case *parse.IdentifierNode:
			if !tmplAllowedFunc(node.Ident) {
				err = refuse(node, "function %q is not allowed; templates can use json, default and text/template's built-ins but call", node.Ident)
			}
		case *parse.RangeNode:
			if tmplPipeIsNumber(node.Pipe) {
				err = refuse(node, "range over a number is not allowed; range over a list or an object")
			}
		}
		return err == nil
	})
	return err
}

// tmplPipeIsNumber reports whether pipe visibly yields a number: it ends
// with a number literal or a call of len.
func tmplPipeIsNumber(pipe *parse.PipeNode) bool {
	if pipe == nil || len(pipe.Cmds) == 0 {
		return false
	}
	last := pipe.Cmds[len(pipe.Cmds)-1]
	if len(last.Args) == 0 {
		return false
	}
	switch arg := last.Args[0].(type) {
	case *parse.NumberNode:
		return true
	case *parse.IdentifierNode:
		return arg.Ident == "len"
	case *parse.PipeNode:
		return tmplPipeIsNumber(arg)
	}
	return false
}

// tmplInspect calls fn for node and every node below it, depth first, until
// fn returns false.
func tmplInspect(node parse.Node, fn func(parse.Node) bool) bool {
	if node == nil || reflect.ValueOf(node).IsNil() {
		return true
	}
	if !fn(node) {
		return false
	}
	var children []parse.Node
	switch node := node.(type) {
	case *parse.ListNode:
		children = node.Nodes
	case *parse.ActionNode:
		children = []parse.Node{node.Pipe}
	case *parse.IfNode:
		children = []parse.Node{node.Pipe, node.List, node.ElseList}
	case *parse.WithNode:
		children = []parse.Node{node.Pipe, node.List, node.ElseList}
	case *parse.RangeNode:
		children = []parse.Node{node.Pipe, node.List, node.ElseList}
	case *parse.TemplateNode:
		children = []parse.Node{node.Pipe}
	case *parse.PipeNode:
		for _, cmd := range node.Cmds {
			children = append(children, cmd)
		}
	case *parse.CommandNode:
		children = node.Args
	case *parse.ChainNode:
		children = []parse.Node{node.Node}
	}
	for _, child := range children {
		if !tmplInspect(child, fn) {
			return false
		}
	}
	return true
}

// tmplGuardTree rewrites every range of tree so that its execution spends
// from the budget: `range PIPE` becomes `range PIPE | batonRangeOver_`, which
// refuses numbers and oversized collections whatever their source, and each
// range body starts with `{{ batonRangeTick_ }}`, which spends one step per
// iteration and stops the loop when the budget is gone.
func tmplGuardTree(tree *parse.Tree) {
	if tree == nil {
		return
	}
	tmplInspect(tree.Root, func(node parse.Node) bool {
		rng, ok := node.(*parse.RangeNode)
		if !ok || rng.Pipe == nil {
			return true
		}
		rng.Pipe.Cmds = append(rng.Pipe.Cmds, tmplFuncCommand(tree, tmplIterFunc, rng.Position()))
		tick := &parse.ActionNode{
			NodeType: parse.NodeAction,
			Pos:      rng.Position(),
			Line:     rng.Line,
			Pipe: &parse.PipeNode{
				NodeType: parse.NodePipe,
				Pos:      rng.Position(),
				Line:     rng.Line,
				Cmds:     []*parse.CommandNode{tmplFuncCommand(tree, tmplTickFunc, rng.Position())},
			},
		}
		if rng.List == nil {
			rng.List = &parse.ListNode{NodeType: parse.NodeList, Pos: rng.Position()}
		}
		// The tick goes first so that the walk continuing into the body
		// does not see it as a range to guard.
		rng.List.Nodes = append([]parse.Node{tick}, rng.List.Nodes...)
		return true
	})
}

// tmplFuncCommand returns a command calling the function name without
// arguments (a pipeline's value, if any, is passed as its last).
func tmplFuncCommand(tree *parse.Tree, name string, pos parse.Pos) *parse.CommandNode {
	ident := parse.NewIdentifier(name).SetTree(tree).SetPos(pos)
	return &parse.CommandNode{NodeType: parse.NodeCommand, Pos: pos, Args: []parse.Node{ident}}
}
