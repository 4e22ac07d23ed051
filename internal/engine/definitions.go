package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/baton-run/baton/internal/dbsqlc"
)

const (
	defaultMaxRetries = 3
	defaultTimeout    = 5 * time.Minute
	defaultPriority   = 2
	defaultQueue      = "default"
)

// ApplyTaskType validates spec and creates or updates the task type.
func (e *Engine) ApplyTaskType(ctx context.Context, spec *TaskTypeSpec) (*TaskType, error) {
	if err := spec.Validate(e.opts.KnownExecutor); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	params := &dbsqlc.TaskTypeUpsertParams{
		Name:               spec.Name,
		Executor:           spec.Executor,
		Description:        spec.Description,
		Defaults:           jsonOrEmptyObject(spec.Defaults),
		MaxRetries:         defaultMaxRetries,
		TimeoutMs:          defaultTimeout.Milliseconds(),
		Priority:           defaultPriority,
		Queue:              defaultQueue,
		PermanentExitCodes: toInt32s(spec.PermanentExitCodes),
	}
	var err error
	if params.Backoff, err = marshalOptional(spec.Backoff); err != nil {
		return nil, err
	}
	if params.CircuitBreaker, err = marshalOptional(spec.CircuitBreaker); err != nil {
		return nil, err
	}
	if params.Resources, err = marshalResources(spec.Resources); err != nil {
		return nil, err
	}
	if params.CostPerSecond, err = toNumeric(spec.CostPerSecond); err != nil {
		return nil, err
	}
	if params.CostPerRun, err = toNumeric(spec.CostPerRun); err != nil {
		return nil, err
	}
	if spec.ConcurrencyLimit != nil {
		v := int32(*spec.ConcurrencyLimit)
		params.ConcurrencyLimit = &v
	}
	if spec.MaxRetries != nil {
		params.MaxRetries = int32(*spec.MaxRetries)
	}
	if spec.Timeout != "" {
		d, err := time.ParseDuration(spec.Timeout)
		if err != nil {
			return nil, fmt.Errorf("%w: timeout: %w", ErrInvalid, err)
		}
		params.TimeoutMs = d.Milliseconds()
	}
	if spec.Priority != nil {
		params.Priority = int16(*spec.Priority)
	}
	if spec.Queue != "" {
		params.Queue = spec.Queue
	}
	row, err := e.queries.TaskTypeUpsert(ctx, e.pool, params)
	if err != nil {
		return nil, translateError(err, "save task type")
	}
	return taskTypeFromRow(row), nil
}

// GetTaskType returns the named task type.
func (e *Engine) GetTaskType(ctx context.Context, name string) (*TaskType, error) {
	row, err := e.queries.TaskTypeGet(ctx, e.pool, name)
	if err != nil {
		return nil, translateError(err, fmt.Sprintf("task type %q", name))
	}
	return taskTypeFromRow(row), nil
}

// ListTaskTypes returns every task type, by name.
func (e *Engine) ListTaskTypes(ctx context.Context) ([]*TaskType, error) {
	rows, err := e.queries.TaskTypeList(ctx, e.pool)
	if err != nil {
		return nil, translateError(err, "list task types")
	}
	out := make([]*TaskType, len(rows))
	for i, row := range rows {
		out[i] = taskTypeFromRow(row)
	}
	return out, nil
}

// ApplyWorkflow validates spec and stores it as a new version of its
// workflow. Applying a definition identical to the latest version stores
// nothing and returns that version with created false.
func (e *Engine) ApplyWorkflow(ctx context.Context, spec *WorkflowSpec) (*Workflow, bool, error) {
	types, err := e.ListTaskTypes(ctx)
	if err != nil {
		return nil, false, err
	}
	byName := make(map[string]*TaskType, len(types))
	for _, t := range types {
		byName[t.Name] = t
	}
	if err := e.validateWorkflow(spec, byName); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := e.checkStepsFit(ctx, spec, byName); err != nil {
		return nil, false, err
	}

	definition, err := json.Marshal(spec)
	if err != nil {
		return nil, false, fmt.Errorf("encode workflow definition: %w", err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, definition); err != nil {
		return nil, false, fmt.Errorf("compact workflow definition: %w", err)
	}
	sum := sha256.Sum256(compact.Bytes())
	checksum := hex.EncodeToString(sum[:])

	var (
		stored  *dbsqlc.BatonWorkflow
		created bool
	)
	err = e.inTx(ctx, func(tx pgx.Tx) error {
		if err := e.queries.WorkflowLockName(ctx, tx, spec.Name); err != nil {
			return fmt.Errorf("lock workflow name: %w", err)
		}
		latest, err := e.queries.WorkflowGetLatest(ctx, tx, spec.Name)
		version := int32(1)
		switch {
		case err == nil && latest.Checksum == checksum:
			stored = latest
			return nil
		case err == nil:
			version = latest.Version + 1
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("get latest workflow version: %w", err)
		}
		priority := int16(defaultPriority)
		if spec.Priority != nil {
			priority = int16(*spec.Priority)
		}
		stored, err = e.queries.WorkflowInsert(ctx, tx, &dbsqlc.WorkflowInsertParams{
			Name:        spec.Name,
			Version:     version,
			Description: spec.Description,
			Priority:    priority,
			Owner:       spec.Owner,
			Tags:        nonNilStrings(spec.Tags),
			Definition:  compact.Bytes(),
			Checksum:    checksum,
			SlaMs:       slaMillis(spec.SLA),
		})
		if err != nil {
			return fmt.Errorf("insert workflow: %w", err)
		}
		steps, err := stepRows(stored.ID, spec)
		if err != nil {
			return err
		}
		if _, err := e.queries.WorkflowStepInsert(ctx, tx, steps); err != nil {
			return fmt.Errorf("insert workflow steps: %w", err)
		}
		created = true
		return nil
	})
	if err != nil {
		return nil, false, translateError(err, "apply workflow")
	}
	wf, err := workflowFromRow(stored, len(spec.Steps))
	return wf, created, err
}

// validateWorkflow validates spec against the stored task types, checking
// each step's params merged over its type's defaults.
func (e *Engine) validateWorkflow(spec *WorkflowSpec, types map[string]*TaskType) error {
	if err := checkStepsTypeOnlyParams(spec); err != nil {
		return err
	}
	lookup := func(name string) (string, bool) {
		t, ok := types[name]
		if !ok {
			return "", false
		}
		return t.Executor, true
	}
	if e.opts.ValidateParams == nil {
		return spec.Validate(lookup, nil)
	}
	// Validate a copy whose params carry the type defaults, so that a step
	// may omit what its task type already provides.
	merged := *spec
	merged.Steps = make([]StepSpec, len(spec.Steps))
	for i, step := range spec.Steps {
		merged.Steps[i] = step
		if t, ok := types[step.Type]; ok {
			if params, err := MergeParams(t.Defaults, step.Params); err == nil {
				merged.Steps[i].Params = params
			}
		}
		if step.Compensate == nil {
			continue
		}
		c := *step.Compensate
		if t, ok := types[c.Type]; ok {
			if params, err := MergeParams(t.Defaults, c.Params); err == nil {
				c.Params = params
			}
		}
		merged.Steps[i].Compensate = &c
	}
	return merged.Validate(lookup, e.opts.ValidateParams)
}

func stepRows(workflowID int64, spec *WorkflowSpec) ([]*dbsqlc.WorkflowStepInsertParams, error) {
	rows := make([]*dbsqlc.WorkflowStepInsertParams, len(spec.Steps))
	after := spec.CompensateAfter()
	for i, step := range spec.Steps {
		row := &dbsqlc.WorkflowStepInsertParams{
			WorkflowID: workflowID,
			StepIndex:  int32(i),
			Name:       step.Name,
			TaskType:   step.Type,
			Params:     jsonOrEmptyObject(step.Params),
			DependsOn:  nonNilStrings(step.DependsOn),
			WhenCond:   step.When,
			Optional:   step.Optional,
		}
		backoff, err := marshalOptional(step.Backoff)
		if err != nil {
			return nil, err
		}
		row.Backoff = backoff
		if row.Resources, err = marshalResources(step.Resources); err != nil {
			return nil, err
		}
		if rules := stepConcurrency(spec.Name, step.Name, spec.Concurrency, step.Concurrency); rules != nil {
			if row.Concurrency, err = json.Marshal(rules); err != nil {
				return nil, fmt.Errorf("encode concurrency of step %q: %w", step.Name, err)
			}
		}
		if row.WhenCond == "" {
			row.WhenCond = WhenOnSuccess
		}
		if step.MaxRetries != nil {
			v := int32(*step.MaxRetries)
			row.MaxRetries = &v
		}
		if step.Timeout != "" {
			d, err := time.ParseDuration(step.Timeout)
			if err != nil {
				return nil, fmt.Errorf("step %q timeout: %w", step.Name, err)
			}
			ms := d.Milliseconds()
			row.TimeoutMs = &ms
		}
		if step.Priority != nil {
			v := int16(*step.Priority)
			row.Priority = &v
		}
		if step.Compensate != nil {
			if row.Compensate, err = compensateRow(step.Compensate, after[step.Name]); err != nil {
				return nil, fmt.Errorf("step %q compensate: %w", step.Name, err)
			}
		}
		rows[i] = row
	}
	return rows, nil
}

// compensateRow is the stored form of a step's compensate task
// (workflow_steps.compensate): what baton._compensate needs to create the
// task, with after, the steps whose compensations must finish first.
func compensateRow(c *CompensateSpec, after []string) ([]byte, error) {
	row := map[string]any{
		"type":   c.Type,
		"params": jsonOrEmptyObject(c.Params),
		"after":  nonNilStrings(after),
	}
	if c.MaxRetries != nil {
		row["max_retries"] = *c.MaxRetries
	}
	if c.Priority != nil {
		row["priority"] = *c.Priority
	}
	if c.Backoff != nil {
		row["backoff"] = c.Backoff
	}
	if c.Timeout != "" {
		d, err := time.ParseDuration(c.Timeout)
		if err != nil {
			return nil, fmt.Errorf("timeout: %w", err)
		}
		row["timeout_ms"] = d.Milliseconds()
	}
	return json.Marshal(row)
}

// GetWorkflow returns a version of the named workflow; version 0 means the latest.
func (e *Engine) GetWorkflow(ctx context.Context, name string, version int) (*Workflow, error) {
	var (
		row *dbsqlc.BatonWorkflow
		err error
	)
	if version == 0 {
		row, err = e.queries.WorkflowGetLatest(ctx, e.pool, name)
	} else {
		row, err = e.queries.WorkflowGetVersion(ctx, e.pool, &dbsqlc.WorkflowGetVersionParams{Name: name, Version: int32(version)})
	}
	if err != nil {
		return nil, translateError(err, fmt.Sprintf("workflow %q", name))
	}
	return workflowFromRow(row, -1)
}

// ListWorkflows returns the latest version of every workflow, by name.
func (e *Engine) ListWorkflows(ctx context.Context) ([]*Workflow, error) {
	rows, err := e.queries.WorkflowListLatest(ctx, e.pool)
	if err != nil {
		return nil, translateError(err, "list workflows")
	}
	out := make([]*Workflow, 0, len(rows))
	for _, row := range rows {
		wf, err := workflowFromRow(&dbsqlc.BatonWorkflow{
			ID: row.ID, Name: row.Name, Version: row.Version, Description: row.Description,
			Priority: row.Priority, Owner: row.Owner, Tags: row.Tags, Definition: row.Definition,
			Checksum: row.Checksum, CreatedAt: row.CreatedAt,
		}, int(row.StepCount))
		if err != nil {
			return nil, err
		}
		out = append(out, wf)
	}
	return out, nil
}

func taskTypeFromRow(row *dbsqlc.BatonTaskType) *TaskType {
	return &TaskType{
		Name:               row.Name,
		Executor:           row.Executor,
		Description:        row.Description,
		Defaults:           row.Defaults,
		MaxRetries:         int(row.MaxRetries),
		Timeout:            time.Duration(row.TimeoutMs) * time.Millisecond,
		Priority:           int(row.Priority),
		Queue:              row.Queue,
		PermanentExitCodes: toInts(row.PermanentExitCodes),
		Backoff:            unmarshalOptional[BackoffSpec](row.Backoff),
		CircuitBreaker:     unmarshalOptional[CircuitBreakerSpec](row.CircuitBreaker),
		CostPerSecond:      fromNumeric(row.CostPerSecond),
		CostPerRun:         fromNumeric(row.CostPerRun),
		Resources:          unmarshalOptional[Resources](row.Resources),
		ConcurrencyLimit:   intPointer(row.ConcurrencyLimit),
		CreatedAt:          row.CreatedAt,
		UpdatedAt:          row.UpdatedAt,
	}
}

// marshalOptional encodes v as JSON, or returns nil for a nil pointer.
func marshalOptional[T any](v *T) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return b, nil
}

// unmarshalOptional decodes stored JSON written by marshalOptional; nil or
// undecodable JSON gives nil.
func unmarshalOptional[T any](raw []byte) *T {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil
	}
	return v
}

// workflowFromRow decodes a stored workflow; stepCount < 0 counts the steps
// of the decoded definition.
func workflowFromRow(row *dbsqlc.BatonWorkflow, stepCount int) (*Workflow, error) {
	var spec WorkflowSpec
	if err := json.Unmarshal(row.Definition, &spec); err != nil {
		return nil, fmt.Errorf("decode workflow %q version %d: %w", row.Name, row.Version, err)
	}
	if stepCount < 0 {
		stepCount = len(spec.Steps)
	}
	return &Workflow{
		ID:          row.ID,
		Name:        row.Name,
		Version:     int(row.Version),
		Description: row.Description,
		Priority:    int(row.Priority),
		Owner:       row.Owner,
		Tags:        row.Tags,
		StepCount:   stepCount,
		Spec:        &spec,
		CreatedAt:   row.CreatedAt,
	}, nil
}

func toInt32s(in []int) []int32 {
	if in == nil {
		return nil
	}
	out := make([]int32, len(in))
	for i, v := range in {
		out[i] = int32(v)
	}
	return out
}

func toInts(in []int32) []int {
	if in == nil {
		return nil
	}
	out := make([]int, len(in))
	for i, v := range in {
		out[i] = int(v)
	}
	return out
}

func nonNilStrings(in []string) []string {
	if in == nil {
		return []string{}
	}
	return in
}

// toNumeric converts an optional price to a numeric (NULL for nil).
func toNumeric(v *float64) (pgtype.Numeric, error) {
	var n pgtype.Numeric
	if v == nil {
		return n, nil
	}
	if err := n.Scan(strconv.FormatFloat(*v, 'f', -1, 64)); err != nil {
		return n, fmt.Errorf("encode price %v: %w", *v, err)
	}
	return n, nil
}

// fromNumeric converts a numeric price back (nil for NULL).
func fromNumeric(n pgtype.Numeric) *float64 {
	if !n.Valid {
		return nil
	}
	f, err := n.Float64Value()
	if err != nil || !f.Valid {
		return nil
	}
	return &f.Float64
}

// slaMillis converts a validated SLA to milliseconds; nil when there is none.
func slaMillis(sla string) *int64 {
	if sla == "" {
		return nil
	}
	d, err := time.ParseDuration(sla)
	if err != nil || d <= 0 {
		return nil
	}
	ms := d.Milliseconds()
	return &ms
}

// intPointer converts a nullable int32 column.
func intPointer(v *int32) *int {
	if v == nil {
		return nil
	}
	n := int(*v)
	return &n
}
