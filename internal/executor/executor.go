// Package executor holds Baton's task executors (http, exec, sleep, sim, go)
// and the classification of their errors into transient and permanent
// failures.
//
// A task worker looks an executor up by name in a Registry, runs it with the
// step's rendered params, and uses ClassOf and RetryAfterOf on the error to
// decide between a retry and a dead task. The API uses Validate to check a
// step's params when a workflow is defined.
package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"sync"
)

// Names of the built-in executors.
const (
	NameHTTP  = "http"
	NameExec  = "exec"
	NameSleep = "sleep"
	NameSim   = "sim"
	NameGo    = "go"
)

// DefaultMaxOutputBytes is the output cap used when Options.MaxOutputBytes is
// zero.
const DefaultMaxOutputBytes = 1 << 20

// ErrUnknownExecutor is returned (wrapped) by Registry.Get for a name that has
// no executor.
var ErrUnknownExecutor = errors.New("unknown executor")

// ErrExecutorDisabled is returned (wrapped) by Registry.Get for a built-in
// executor left out of Options.Enabled.
var ErrExecutorDisabled = errors.New("disabled on this node (not listed in baton's --executors flag or BATON_EXECUTORS)")

// BuiltinNames returns the names of the built-in executors, sorted.
func BuiltinNames() []string {
	return []string{NameExec, NameGo, NameHTTP, NameSim, NameSleep}
}

// Dangerous reports whether an executor runs what its params say on the
// worker host (exec: any command). Defining a task type of such an
// executor, or changing a task's params, needs the admin role.
func Dangerous(name string) bool { return name == NameExec }

// ErrUnknownFunction is returned (wrapped, as a permanent error) by the go
// executor for a function that is not registered.
var ErrUnknownFunction = errors.New("unknown go function")

// Request is one attempt of one task.
type Request struct {
	// RunID and TaskID identify the run and the task (for logs and errors).
	RunID, TaskID int64

	// Step is the step's name in its workflow.
	Step string

	// TaskType is the name of the step's task type.
	TaskType string

	// Attempt is the attempt number, starting at 1.
	Attempt int

	// Params are the step's params, already rendered (no templates left).
	Params json.RawMessage

	// PermanentExitCodes are the exit codes the exec executor treats as
	// permanent failures, from the task type. Nil means the default set,
	// 64–78 except 75; an empty, non-nil slice means none.
	PermanentExitCodes []int
}

// Result is the output of a successful attempt.
type Result struct {
	// Output is always valid JSON: `null` when there is nothing to report.
	Output json.RawMessage
}

// Executor runs one kind of task.
type Executor interface {
	// Validate checks a step's params statically, when a workflow is defined.
	// String fields may hold Go templates ("{{ .input.url }}"); those are
	// accepted wherever a string is expected and checked again at run time.
	// Errors name the offending field, as in "params.url: required".
	Validate(params json.RawMessage) error

	// Execute runs one attempt. Its error should be classified (Permanent,
	// Transient, WithRetryAfter); unclassified errors count as transient.
	// Invalid params give a permanent error.
	Execute(ctx context.Context, req Request) (Result, error)
}

// GoFunc is a Go function run by the go executor. params is the step's `args`
// value (`null` when absent). The returned value is marshalled to JSON as the
// task's output. The error may be classified with Permanent or Transient;
// unclassified errors are transient.
type GoFunc func(ctx context.Context, params json.RawMessage) (any, error)

// Options configure a Registry.
type Options struct {
	// Logger receives the executors' logs. Nil discards them.
	Logger *slog.Logger

	// HTTPClient is used by the http executor. Nil means a client built for
	// Baton, which refuses private addresses at dial time unless
	// AllowPrivateHTTP is set. A client given here is used as it is: it is
	// the caller's job to filter addresses (see RefusePrivateAddresses).
	HTTPClient *http.Client

	// MaxOutputBytes caps the captured output of a task (HTTP response body,
	// command stdout). Zero means DefaultMaxOutputBytes.
	MaxOutputBytes int

	// AllowPrivateHTTP lets the http executor connect to private, loopback
	// and link-local addresses. Off by default so workflow authors cannot
	// reach internal services (including cloud metadata endpoints).
	AllowPrivateHTTP bool

	// Enabled lists the built-in executors the registry holds; nil means all
	// of them. A built-in left out is disabled: Get refuses it with
	// ErrExecutorDisabled and Register refuses its name.
	Enabled []string

	// Rand is the random source of the sim executor. Nil means a source
	// seeded at random. The registry guards it with a mutex.
	Rand *rand.Rand
}

// Registry holds the executors by name. It is safe for concurrent use.
type Registry struct {
	logger    *slog.Logger
	maxOutput int

	// ownClient is the HTTP client built by NewRegistry (nil when the caller
	// gave one); Close releases its idle connections.
	ownClient *http.Client

	randMu sync.Mutex
	rand   *rand.Rand

	mu        sync.RWMutex
	executors map[string]Executor
	funcs     map[string]GoFunc

	// disabled holds the built-in executors left out of Options.Enabled.
	disabled map[string]bool
}

// NewRegistry returns a registry holding the built-in executors (http, exec,
// sleep, sim and go) that opts.Enabled lists, or all of them.
func NewRegistry(opts Options) *Registry {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	maxOutput := opts.MaxOutputBytes
	if maxOutput <= 0 {
		maxOutput = DefaultMaxOutputBytes
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}

	r := &Registry{
		logger:    logger,
		maxOutput: maxOutput,
		rand:      rnd,
		executors: make(map[string]Executor),
		funcs:     make(map[string]GoFunc),
		disabled:  make(map[string]bool),
	}

	client := opts.HTTPClient
	if client == nil {
		client = newHTTPClient(opts.AllowPrivateHTTP)
		r.ownClient = client
	}

	r.executors[NameHTTP] = &httpExecutor{client: client, maxOutput: maxOutput, logger: logger}
	r.executors[NameExec] = &execExecutor{maxOutput: maxOutput, logger: logger}
	r.executors[NameSleep] = &sleepExecutor{}
	r.executors[NameSim] = &simExecutor{registry: r}
	r.executors[NameGo] = &goExecutor{registry: r}
	if opts.Enabled != nil {
		for _, name := range BuiltinNames() {
			if !slices.Contains(opts.Enabled, name) {
				delete(r.executors, name)
				r.disabled[name] = true
			}
		}
	}
	return r
}

// Get returns the executor registered under name. The error wraps
// ErrExecutorDisabled for a disabled built-in, ErrUnknownExecutor when there
// is none.
func (r *Registry) Get(name string) (Executor, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()

	if r.disabled[name] {
		return nil, fmt.Errorf("executor %q: %w", name, ErrExecutorDisabled)
	}
	ex, ok := r.executors[name]
	if !ok {
		return nil, fmt.Errorf("executor %q: %w", name, ErrUnknownExecutor)
	}
	return ex, nil
}

// Names returns the names of the registered executors, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()

	names := make([]string, 0, len(r.executors))
	for name := range r.executors {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Register adds an executor under name, beside the built-in ones. A name
// already taken, or of a disabled built-in, is an error.
func (r *Registry) Register(name string, ex Executor) error {
	if name == "" {
		return errors.New("register executor: empty name")
	}
	if ex == nil {
		return fmt.Errorf("register executor %q: nil executor", name)
	}

	r.mu.Lock()
	defer r.mu.Unlock()

	if _, ok := r.executors[name]; ok {
		return fmt.Errorf("register executor %q: already registered", name)
	}
	if r.disabled[name] {
		return fmt.Errorf("register executor %q: %w", name, ErrExecutorDisabled)
	}
	r.executors[name] = ex
	return nil
}

// RegisterFunc adds a Go function for the go executor. A name already taken
// is an error.
func (r *Registry) RegisterFunc(name string, fn GoFunc) error {
	if name == "" {
		return errors.New("register go function: empty name")
	}
	if fn == nil {
		return fmt.Errorf("register go function %q: nil function", name)
	}

	r.mu.Lock()
	defer r.mu.Unlock()

	if _, ok := r.funcs[name]; ok {
		return fmt.Errorf("register go function %q: already registered", name)
	}
	r.funcs[name] = fn
	return nil
}

// FuncNames returns the names of the registered Go functions, sorted.
func (r *Registry) FuncNames() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()

	names := make([]string, 0, len(r.funcs))
	for name := range r.funcs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Close releases the idle connections of the HTTP client the registry built.
// A client passed in Options is left alone. The registry stays usable.
func (r *Registry) Close() {
	if r.ownClient != nil {
		r.ownClient.CloseIdleConnections()
	}
}

func (r *Registry) lookupFunc(name string) (GoFunc, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()

	fn, ok := r.funcs[name]
	return fn, ok
}

// randInt64N returns a random number in [0, n) from the registry's source.
func (r *Registry) randInt64N(n int64) int64 {
	r.randMu.Lock()
	defer r.randMu.Unlock()
	return r.rand.Int64N(n)
}

// randFloat64 returns a random number in [0, 1) from the registry's source.
func (r *Registry) randFloat64() float64 {
	r.randMu.Lock()
	defer r.randMu.Unlock()
	return r.rand.Float64()
}

// nullOutput is the output of a task with nothing to report.
const nullOutput = "null"

// marshalOutput marshals v as a task output.
func marshalOutput(v any) (Result, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Result{}, Permanent(fmt.Errorf("marshal output: %w", err))
	}
	return Result{Output: b}, nil
}
