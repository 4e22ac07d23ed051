package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

// specNamePattern is what task type, workflow and step names must match.
var specNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,99}$`)

// specQueuePattern is River's rule for queue names (at most 64 characters).
var specQueuePattern = regexp.MustCompile(`^[a-z0-9]+(?:[_-][a-z0-9]+)*$`)

// Limits checked by validation.
const (
	specMaxRetriesLimit = 25
	specMinPriority     = 1
	specMaxPriority     = 4
	specMaxQueueLength  = 64
	specMaxTagLength    = 100
)

// specBuiltinExecutor reports whether name is one of the built-in executors,
// which TaskTypeSpec.Validate accepts when given no executor check of its own.
func specBuiltinExecutor(name string) bool {
	switch name {
	case "http", "exec", "go", "sleep", "sim":
		return true
	}
	return false
}

// Problem is one thing wrong with a definition.
type Problem struct {
	// Field is the path of the culprit, such as "steps[3].depends_on[0]" or
	// "steps.build.params.url". It is empty for a problem with the document
	// as a whole.
	Field string

	// Message says what is wrong.
	Message string
}

// String returns "field: message", or the message alone without a field.
func (p Problem) String() string {
	if p.Field == "" {
		return p.Message
	}
	return p.Field + ": " + p.Message
}

// ValidationError lists every problem found in a task type or workflow
// definition, each naming its culprit.
type ValidationError struct {
	// Kind is "workflow", "task_type" or "run", or empty when unknown.
	Kind string

	// Name is the definition's name, or empty when unknown.
	Name string

	// Problems holds one entry per problem, in the order they were found.
	Problems []Problem
}

// Error returns, for example,
// `invalid workflow "x": steps[2].depends_on[0]: unknown step "nope"; ...`.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid ")
	switch e.Kind {
	case specKindWorkflow:
		b.WriteString("workflow")
	case specKindTaskType:
		b.WriteString("task type")
	case "run":
		b.WriteString("run of workflow")
	case specKindSchedule:
		b.WriteString("schedule")
	default:
		b.WriteString("definition")
	}
	if e.Name != "" {
		fmt.Fprintf(&b, " %q", e.Name)
	}
	b.WriteString(": ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Is makes a *ValidationError match ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// TaskTypeLookup gives validation what it needs about task types: the
// executor of the named task type, and whether it exists.
type TaskTypeLookup func(name string) (executor string, ok bool)

// ParamsValidator checks a step's params for an executor. It is called for
// every step whose task type resolves, with nil params when the step has
// none, so that it can report missing required params. Template strings are
// not rendered yet when it is called: it must accept a template wherever a
// string is expected.
type ParamsValidator func(executor string, params json.RawMessage) error

// specProblems collects problems while validating.
type specProblems []Problem

func (p *specProblems) add(field, format string, args ...any) {
	*p = append(*p, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// checkName checks a name against specNamePattern.
func (p *specProblems) checkName(field, name string) {
	switch {
	case name == "":
		p.add(field, "required")
	case !specNamePattern.MatchString(name):
		p.add(field, "invalid name %q: must be 1 to 100 lowercase letters, digits, '_', '.' or '-', starting with a letter or digit", name)
	}
}

// checkRetries checks a max_retries value.
func (p *specProblems) checkRetries(field string, value *int) {
	if value != nil && (*value < 0 || *value > specMaxRetriesLimit) {
		p.add(field, "must be between 0 and %d, not %d", specMaxRetriesLimit, *value)
	}
}

// maxSLA bounds a workflow's SLA.
const maxSLA = 366 * 24 * time.Hour

// checkSLA checks a workflow's SLA: a positive Go duration of at least a
// millisecond and at most maxSLA.
func (p *specProblems) checkSLA(field, value string) {
	if value == "" {
		return
	}
	d, err := time.ParseDuration(value)
	switch {
	case err != nil:
		p.add(field, "invalid duration %q: use a Go duration such as \"15m\" or \"2h\"", value)
	case d < time.Millisecond:
		p.add(field, "must be at least 1ms, not %q", value)
	case d > maxSLA:
		p.add(field, "must be at most %s, not %q", maxSLA, value)
	}
}

// checkTimeout checks a timeout value.
func (p *specProblems) checkTimeout(field, value string) {
	if value == "" {
		return
	}
	d, err := time.ParseDuration(value)
	switch {
	case err != nil:
		p.add(field, "invalid duration %q: use a Go duration such as \"30s\" or \"5m\"", value)
	case d <= 0:
		p.add(field, "must be positive, not %q", value)
	}
}

// checkResources checks declared resources.
func (p *specProblems) checkResources(field string, r *Resources) {
	if err := r.validate(); err != nil {
		p.add(field, "%s", err.Error())
	}
}

// checkBackoff checks a backoff.
func (p *specProblems) checkBackoff(field string, b *BackoffSpec) {
	if b == nil {
		return
	}
	p.checkTimeout(field+".base", b.Base)
	p.checkTimeout(field+".max", b.Max)
	if b.Factor != 0 && (b.Factor < 1 || b.Factor > 10) {
		p.add(field+".factor", "must be between 1 and 10, got %v", b.Factor)
	}
}

func (p *specProblems) checkCircuitBreaker(field string, c *CircuitBreakerSpec) {
	if c == nil {
		return
	}
	if c.FailureRate != 0 && (c.FailureRate <= 0 || c.FailureRate >= 1) {
		p.add(field+".failure_rate", "must be between 0 and 1 (exclusive), got %v", c.FailureRate)
	}
	if c.Window != 0 && (c.Window < 1 || c.Window > 1000) {
		p.add(field+".window", "must be between 1 and 1000, got %d", c.Window)
	}
	p.checkTimeout(field+".cooldown", c.Cooldown)
}

func (p *specProblems) checkPriority(field string, value *int) {
	if value != nil && (*value < specMinPriority || *value > specMaxPriority) {
		p.add(field, "must be between %d (high) and %d (background), not %d", specMinPriority, specMaxPriority, *value)
	}
}

// err returns nil without problems, a *ValidationError otherwise.
func (p specProblems) err(kind, name string) error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Kind: kind, Name: name, Problems: p}
}

// Validate checks a task type definition and returns a *ValidationError
// listing every problem. knownExecutor reports whether an executor exists;
// nil accepts the built-in executors (http, exec, go, sleep, sim).
func (t *TaskTypeSpec) Validate(knownExecutor func(string) bool) error {
	var problems specProblems

	if t.Kind != "" && t.Kind != specKindTaskType {
		problems.add("kind", "must be %q, not %q", specKindTaskType, t.Kind)
	}
	problems.checkName("name", t.Name)

	if knownExecutor == nil {
		knownExecutor = specBuiltinExecutor
	}
	switch {
	case t.Executor == "":
		problems.add("executor", "required")
	case !knownExecutor(t.Executor):
		problems.add("executor", "unknown executor %q", t.Executor)
	}

	if !specIsNull(t.Defaults) {
		var defaults any
		if err := CheckJSON(t.Defaults, 0); err != nil {
			problems.add("defaults", "%s", err.Error())
		} else if _, err := specDecodeObject(t.Defaults); err != nil {
			problems.add("defaults", "%s", err.Error())
		} else if defaults, err = tmplDecodeJSON(t.Defaults); err != nil {
			problems.add("defaults", "invalid JSON: %s", err.Error())
		} else {
			// Defaults are shared by every step of this type, so their templates
			// can only be checked for syntax and top-level fields here.
			tmplCheckParams(defaults, "defaults", "", nil, &problems)
		}
	}

	problems.checkRetries("max_retries", t.MaxRetries)
	problems.checkTimeout("timeout", t.Timeout)
	problems.checkBackoff("backoff", t.Backoff)
	problems.checkResources("resources", t.Resources)
	if t.ConcurrencyLimit != nil && (*t.ConcurrencyLimit < 1 || *t.ConcurrencyLimit > MaxConcurrencyLimit) {
		problems.add("concurrency_limit", "must be between 1 and %d, not %d", MaxConcurrencyLimit, *t.ConcurrencyLimit)
	}
	problems.checkCircuitBreaker("circuit_breaker", t.CircuitBreaker)
	problems.checkPriority("priority", t.Priority)
	problems.checkPrice("cost_per_second", t.CostPerSecond)
	problems.checkPrice("cost_per_run", t.CostPerRun)

	if t.Queue != "" {
		switch {
		case len(t.Queue) > specMaxQueueLength:
			problems.add("queue", "must be at most %d characters", specMaxQueueLength)
		case !specQueuePattern.MatchString(t.Queue):
			problems.add("queue", "invalid queue name %q: use lowercase letters and digits separated by '_' or '-'", t.Queue)
		}
	}

	for i, code := range t.PermanentExitCodes {
		if code < 1 || code > 255 {
			problems.add(fmt.Sprintf("permanent_exit_codes[%d]", i), "must be between 1 and 255, not %d", code)
		}
	}

	return problems.err(specKindTaskType, t.Name)
}

// Validate checks a workflow definition and returns a *ValidationError
// listing every problem, each naming its culprit. types resolves task type
// names (nil skips the task type and params checks); params checks each
// step's params for its executor (nil skips that check). Template strings in
// params are checked for syntax and for their references: a template may use
// .input and anything below it, and .steps.NAME(.output…|.status) where NAME
// is a transitive dependency of the step.
func (w *WorkflowSpec) Validate(types TaskTypeLookup, params ParamsValidator) error {
	var problems specProblems

	if w.Kind != "" && w.Kind != specKindWorkflow {
		problems.add("kind", "must be %q, not %q", specKindWorkflow, w.Kind)
	}
	problems.checkName("name", w.Name)
	problems.checkPriority("priority", w.Priority)
	problems.checkSLA("sla", w.SLA)
	problems.checkConcurrency("concurrency", w.Concurrency)
	for i, tag := range w.Tags {
		field := fmt.Sprintf("tags[%d]", i)
		switch {
		case strings.TrimSpace(tag) == "":
			problems.add(field, "must not be empty")
		case len(tag) > specMaxTagLength:
			problems.add(field, "must be at most %d characters", specMaxTagLength)
		}
	}

	if len(w.Steps) == 0 {
		problems.add("steps", "a workflow needs at least one step")
		return problems.err(specKindWorkflow, w.Name)
	}

	graph := specNewGraph(w)

	for i := range w.Steps {
		w.validateStep(i, graph, types, params, &problems)
	}

	for _, cycle := range graph.cycles() {
		names := make([]string, len(cycle))
		for i, index := range cycle {
			names[i] = w.Steps[index].Name
		}
		problems.add(fmt.Sprintf("steps[%d].depends_on", cycle[0]), "cycle: %s", strings.Join(names, " -> "))
	}

	return problems.err(specKindWorkflow, w.Name)
}

// validateStep checks step i of w.
func (w *WorkflowSpec) validateStep(i int, graph *specGraph, types TaskTypeLookup, params ParamsValidator, problems *specProblems) {
	step := &w.Steps[i]
	field := fmt.Sprintf("steps[%d]", i)

	problems.checkName(field+".name", step.Name)
	if first, ok := graph.index[step.Name]; ok && first != i && step.Name != "" {
		problems.add(field+".name", "duplicate step name %q (first declared at steps[%d])", step.Name, first)
	}

	var executor string
	switch {
	case step.Type == "":
		problems.add(field+".type", "required")
	case types != nil:
		var ok bool
		if executor, ok = types(step.Type); !ok {
			problems.add(field+".type", "unknown task type %q", step.Type)
		}
	}

	seen := make(map[string]bool, len(step.DependsOn))
	for j, dep := range step.DependsOn {
		depField := fmt.Sprintf("%s.depends_on[%d]", field, j)
		_, known := graph.index[dep]
		switch {
		case dep == "":
			problems.add(depField, "must not be empty")
		case dep == step.Name:
			problems.add(depField, "step %q depends on itself", dep)
		case !known:
			problems.add(depField, "unknown step %q", dep)
		case seen[dep]:
			problems.add(depField, "duplicate dependency %q", dep)
		}
		seen[dep] = true
	}

	switch step.When {
	case "", WhenOnSuccess:
	case WhenOnFailure, WhenAlways:
		if len(step.DependsOn) == 0 {
			problems.add(field+".when", "%q needs depends_on: it only makes sense after other steps", step.When)
		}
	default:
		problems.add(field+".when", "unknown value %q; expected %q, %q or %q", step.When, WhenOnSuccess, WhenOnFailure, WhenAlways)
	}

	problems.checkRetries(field+".max_retries", step.MaxRetries)
	problems.checkTimeout(field+".timeout", step.Timeout)
	problems.checkBackoff(field+".backoff", step.Backoff)
	problems.checkResources(field+".resources", step.Resources)
	problems.checkConcurrency(field+".concurrency", step.Concurrency)
	problems.checkPriority(field+".priority", step.Priority)

	if step.Compensate != nil {
		w.validateCompensate(i, graph, types, params, problems)
	}

	checkTaskParams(field+".params", step.Name, executor, step.Params, params, func(name string) (known, upstream bool) {
		index, known := graph.index[name]
		if !known {
			return false, false
		}
		return true, index != i && graph.isAncestor(index, i)
	}, problems)
}

// checkTaskParams checks the params of a task (a step's or its
// compensation's): a JSON object within the limits, valid for the executor
// (called without params too, so that missing required ones are found),
// whose templates read only the steps refers allows.
func checkTaskParams(field, stepName, executor string, raw json.RawMessage, params ParamsValidator,
	refers func(name string) (known, upstream bool), problems *specProblems) {
	if err := CheckJSON(raw, 0); err != nil {
		problems.add(field, "%s", err.Error())
		return
	}
	if _, err := specDecodeObject(raw); err != nil {
		problems.add(field, "%s", err.Error())
		return
	}
	if params != nil && executor != "" {
		if err := params(executor, raw); err != nil {
			problems.add(field, "%s", err.Error())
		}
	}
	if specIsNull(raw) {
		return
	}
	decoded, err := tmplDecodeJSON(raw)
	if err != nil {
		problems.add(field, "invalid JSON: %s", err.Error())
		return
	}
	tmplCheckParams(decoded, field, stepName, refers, problems)
}

// validateCompensate checks the compensate task of step i: a known task
// type, valid overrides and params whose templates refer to the input, the
// step itself or its upstream steps.
func (w *WorkflowSpec) validateCompensate(i int, graph *specGraph, types TaskTypeLookup, params ParamsValidator, problems *specProblems) {
	step := &w.Steps[i]
	c := step.Compensate
	field := fmt.Sprintf("steps[%d].compensate", i)

	var executor string
	switch {
	case c.Type == "":
		problems.add(field+".type", "required")
	case !specNamePattern.MatchString(c.Type):
		problems.add(field+".type", "unknown task type %q", c.Type)
	case types != nil:
		var ok bool
		if executor, ok = types(c.Type); !ok {
			problems.add(field+".type", "unknown task type %q", c.Type)
		}
	}
	problems.checkRetries(field+".max_retries", c.MaxRetries)
	problems.checkTimeout(field+".timeout", c.Timeout)
	problems.checkBackoff(field+".backoff", c.Backoff)
	problems.checkPriority(field+".priority", c.Priority)

	// A compensation runs after its step succeeded: it may read the step's
	// own output and those of the steps upstream of it.
	checkTaskParams(field+".params", step.Name, executor, c.Params, params, func(name string) (known, upstream bool) {
		index, known := graph.index[name]
		if !known {
			return false, false
		}
		return true, index == i || graph.isAncestor(index, i)
	}, problems)
}

// CompensateAfter returns, for each step with a compensate task, the names
// of the steps with one that depend on it directly or transitively, in
// declaration order: its compensation waits for theirs (reverse dependency
// order). Steps without a compensate task are absent from the map.
func (w *WorkflowSpec) CompensateAfter() map[string][]string {
	graph := specNewGraph(w)
	out := map[string][]string{}
	for i, step := range w.Steps {
		if step.Compensate == nil {
			continue
		}
		after := []string{}
		for j, other := range w.Steps {
			if j != i && other.Compensate != nil && graph.isAncestor(i, j) {
				after = append(after, other.Name)
			}
		}
		out[step.Name] = after
	}
	return out
}

// TopoOrder returns the step names in a topological order: every step comes
// after all the steps it depends on, and among the steps that are ready at
// the same time the one declared first comes first, so the order is
// deterministic. It is meant for valid specs; unknown dependencies are
// ignored and steps caught in a cycle are appended in declaration order.
func (w *WorkflowSpec) TopoOrder() []string {
	graph := specNewGraph(w)
	order := make([]string, 0, len(w.Steps))
	emitted := make([]bool, len(w.Steps))

	for len(order) < len(w.Steps) {
		progressed := false
		for i := range w.Steps {
			if emitted[i] || !graph.depsEmitted(i, emitted) {
				continue
			}
			emitted[i] = true
			order = append(order, w.Steps[i].Name)
			progressed = true
			break // restart from the first declared step: it may be ready now
		}
		if !progressed {
			for i := range w.Steps {
				if !emitted[i] {
					emitted[i] = true
					order = append(order, w.Steps[i].Name)
				}
			}
		}
	}
	return order
}

// specGraph is the dependency graph of a workflow's steps, by step index.
// Only resolvable, non-self dependencies become edges; duplicate step names
// resolve to their first declaration.
type specGraph struct {
	index    map[string]int // step name → index of its first declaration
	deps     [][]int        // step → the steps it depends on, in declared order
	children [][]int        // step → the steps that depend on it, in declaration order
}

func specNewGraph(w *WorkflowSpec) *specGraph {
	g := &specGraph{
		index:    make(map[string]int, len(w.Steps)),
		deps:     make([][]int, len(w.Steps)),
		children: make([][]int, len(w.Steps)),
	}
	for i, step := range w.Steps {
		if _, ok := g.index[step.Name]; !ok {
			g.index[step.Name] = i
		}
	}
	for i, step := range w.Steps {
		seen := map[int]bool{}
		for _, dep := range step.DependsOn {
			j, ok := g.index[dep]
			if !ok || j == i || seen[j] {
				continue
			}
			seen[j] = true
			g.deps[i] = append(g.deps[i], j)
			g.children[j] = append(g.children[j], i)
		}
	}
	return g
}

// depsEmitted reports whether all dependencies of step i are emitted.
func (g *specGraph) depsEmitted(i int, emitted []bool) bool {
	for _, dep := range g.deps[i] {
		if !emitted[dep] {
			return false
		}
	}
	return true
}

// isAncestor reports whether step a is a transitive dependency of step b.
func (g *specGraph) isAncestor(a, b int) bool {
	visited := make([]bool, len(g.deps))
	stack := []int{b}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, dep := range g.deps[n] {
			if dep == a {
				return true
			}
			if !visited[dep] {
				visited[dep] = true
				stack = append(stack, dep)
			}
		}
	}
	return false
}

// cycles finds dependency cycles with a depth-first search that follows
// edges from upstream to downstream steps, visiting steps in declaration
// order. Each cycle is returned in execution order, rotated to start at its
// earliest declared step, with that step repeated at the end: [a b c a]
// means b depends on a, c on b and a on c. Each distinct cycle is reported
// once.
func (g *specGraph) cycles() [][]int {
	const (
		white = iota // not visited
		grey         // on the DFS stack
		black        // done
	)
	var (
		color  = make([]int, len(g.children))
		stack  []int
		found  [][]int
		seen   = map[string]bool{}
		visit  func(n int)
		report = func(cycle []int) {
			start := 0
			for k, n := range cycle {
				if n < cycle[start] {
					start = k
				}
			}
			rotated := append(append([]int{}, cycle[start:]...), cycle[:start]...)
			rotated = append(rotated, rotated[0])
			key := fmt.Sprint(rotated)
			if !seen[key] {
				seen[key] = true
				found = append(found, rotated)
			}
		}
	)
	visit = func(n int) {
		color[n] = grey
		stack = append(stack, n)
		for _, child := range g.children[n] {
			switch color[child] {
			case white:
				visit(child)
			case grey:
				for k := len(stack) - 1; k >= 0; k-- {
					if stack[k] == child {
						report(stack[k:])
						break
					}
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for n := range g.children {
		if color[n] == white {
			visit(n)
		}
	}
	return found
}

// maxPrice bounds a task type's prices.
const maxPrice = 1e9

// checkPrice accepts an unset price or a finite one from 0 to maxPrice.
func (p *specProblems) checkPrice(field string, v *float64) {
	if v == nil {
		return
	}
	if math.IsNaN(*v) || *v < 0 || *v > maxPrice {
		p.add(field, "must be between 0 and %g", float64(maxPrice))
	}
}
