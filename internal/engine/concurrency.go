package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// Bounds on concurrency rules.
const (
	// MaxConcurrencyLimit is the largest limit a rule may set.
	MaxConcurrencyLimit = 100000
	// maxConcurrencyRules caps the rules of a workflow and of each step.
	maxConcurrencyRules = 10
	// maxConcurrencyKeyLength caps a key template and a rendered key.
	maxConcurrencyKeyLength = 500
)

// Prefixes that keep the keys of different kinds of rules apart.
const (
	concurrencyTaskTypePrefix = "task_type:"
	concurrencyWorkflowPrefix = "workflow:"
	concurrencyStepPrefix     = "step:"
	concurrencyKeyPrefix      = "key:"
)

// ConcurrencyRule limits how many tasks run at once across every worker
// node. In a workflow, a rule without a key limits the running tasks of all
// the workflow's runs; in a step, those of that step. A rule with a key
// limits the running tasks that share the key's value, across every
// workflow that uses the same key: a literal ("stripe-api") names a group,
// a template of the run's input ("{{ .input.customer }}") makes one group
// per value.
type ConcurrencyRule struct {
	// Key names the group the limit applies to; it may be a Go template of
	// .input. Empty: the whole workflow (or step).
	Key string `json:"key,omitempty" maxLength:"500"`

	// Limit is how many tasks of the group may run at once.
	Limit int `json:"limit" minimum:"1" maximum:"100000"`
}

// TaskConcurrency is one concurrency rule as a task carries it in its job
// args: Key is final unless Template is set, in which case it is rendered
// with the run's input (and then prefixed with "key:") before use.
type TaskConcurrency struct {
	Key      string `json:"key"`
	Limit    int    `json:"limit"`
	Template bool   `json:"template,omitempty"`
}

// checkConcurrency checks a list of rules; steps is nil for a workflow's own
// rules.
func (p *specProblems) checkConcurrency(field string, rules []ConcurrencyRule) {
	if len(rules) > maxConcurrencyRules {
		p.add(field, "at most %d rules, got %d", maxConcurrencyRules, len(rules))
		return
	}
	for i, rule := range rules {
		ruleField := fmt.Sprintf("%s[%d]", field, i)
		if rule.Limit < 1 || rule.Limit > MaxConcurrencyLimit {
			p.add(ruleField+".limit", "must be between 1 and %d, not %d", MaxConcurrencyLimit, rule.Limit)
		}
		if len(rule.Key) > maxConcurrencyKeyLength {
			p.add(ruleField+".key", "must be at most %d characters", maxConcurrencyKeyLength)
			continue
		}
		if err := CheckText(rule.Key); err != nil {
			p.add(ruleField+".key", "%s", err.Error())
			continue
		}
		if rule.Key != "" && strings.TrimSpace(rule.Key) == "" {
			p.add(ruleField+".key", "must not be blank")
			continue
		}
		if !strings.Contains(rule.Key, "{{") {
			continue
		}
		tmpl, err := template.New(tmplName).Funcs(tmplFuncs(nil, nil)).Parse(rule.Key)
		if err == nil {
			err = tmplCheckTree(tmpl)
		}
		if err != nil {
			p.add(ruleField+".key", "%s", err.Error())
			continue
		}
		for _, ref := range tmplFieldRefs(tmpl.Tree) {
			if ref[0] != "input" {
				p.add(ruleField+".key", ".%s: a concurrency key can use .input only (it is rendered before the task runs)",
					strings.Join(ref, "."))
				break
			}
		}
	}
}

// stepConcurrency returns the rules a step's tasks carry: the workflow's
// rules, then the step's own. The task type's limit is added when a run
// starts, so that a change of the task type applies to new runs.
func stepConcurrency(workflow string, step string, workflowRules, stepRules []ConcurrencyRule) []TaskConcurrency {
	var out []TaskConcurrency
	add := func(rule ConcurrencyRule, whole string) {
		switch {
		case rule.Key == "":
			out = append(out, TaskConcurrency{Key: whole, Limit: rule.Limit})
		case strings.Contains(rule.Key, "{{"):
			out = append(out, TaskConcurrency{Key: rule.Key, Limit: rule.Limit, Template: true})
		default:
			out = append(out, TaskConcurrency{Key: concurrencyKeyPrefix + rule.Key, Limit: rule.Limit})
		}
	}
	for _, rule := range workflowRules {
		add(rule, concurrencyWorkflowPrefix+workflow)
	}
	for _, rule := range stepRules {
		add(rule, concurrencyStepPrefix+workflow+"/"+step)
	}
	return out
}

// ConcurrencyKeys returns the final keys and limits of rules, rendering the
// templated keys with data. A key that renders to a JSON value other than a
// string uses its JSON text.
func ConcurrencyKeys(ctx context.Context, rules []TaskConcurrency, data TemplateData) (keys []string, limits []int32, err error) {
	keys = make([]string, len(rules))
	limits = make([]int32, len(rules))
	var templated map[string]any
	for i, rule := range rules {
		keys[i], limits[i] = rule.Key, int32(rule.Limit)
		if rule.Template {
			if templated == nil {
				templated = map[string]any{}
			}
			templated[fmt.Sprint(i)] = rule.Key
		}
	}
	if templated == nil {
		return keys, limits, nil
	}
	raw, err := json.Marshal(templated)
	if err != nil {
		return nil, nil, fmt.Errorf("encode concurrency keys: %w", err)
	}
	rendered, err := RenderParams(ctx, raw, data)
	if err != nil {
		return nil, nil, fmt.Errorf("concurrency key: %w", err)
	}
	var values map[string]json.RawMessage
	if err := json.Unmarshal(rendered, &values); err != nil {
		return nil, nil, fmt.Errorf("decode concurrency keys: %w", err)
	}
	for i, rule := range rules {
		if !rule.Template {
			continue
		}
		value := values[fmt.Sprint(i)]
		var s string
		if err := json.Unmarshal(value, &s); err != nil {
			s = string(value)
		}
		if len(s) > maxConcurrencyKeyLength {
			return nil, nil, fmt.Errorf("concurrency key %q renders to %d characters, more than %d", rule.Key, len(s), maxConcurrencyKeyLength)
		}
		keys[i] = concurrencyKeyPrefix + s
	}
	return keys, limits, nil
}

// AcquireConcurrency takes, for a task about to run on node, a lease on
// every key (each allowing limits[i] running tasks), all or none, for ttl.
// It returns false and the name of a full key when the task must wait.
func (e *Engine) AcquireConcurrency(ctx context.Context, taskID int64, node string, keys []string, limits []int32, ttl time.Duration) (acquired bool, blockedBy string, err error) {
	row, err := e.queries.ConcurrencyAcquire(ctx, e.pool, &dbsqlc.ConcurrencyAcquireParams{
		TaskID: taskID, Node: node, Keys: keys, Limits: limits, TtlMs: ttl.Milliseconds(),
	})
	if err != nil {
		return false, "", translateError(err, fmt.Sprintf("concurrency leases of task %d", taskID))
	}
	return row.Acquired, row.BlockedBy, nil
}

// ReleaseConcurrency drops every lease task taskID holds.
func (e *Engine) ReleaseConcurrency(ctx context.Context, taskID int64) error {
	if err := e.queries.ConcurrencyRelease(ctx, e.pool, taskID); err != nil {
		return translateError(err, fmt.Sprintf("release concurrency leases of task %d", taskID))
	}
	return nil
}

// ConcurrencyGroup is a concurrency key with running tasks.
type ConcurrencyGroup struct {
	Key     string
	Running int
	Oldest  time.Time
}

// ListConcurrency returns the keys that hold unexpired leases, by key.
func (e *Engine) ListConcurrency(ctx context.Context) ([]ConcurrencyGroup, error) {
	rows, err := e.queries.ConcurrencyLeaseList(ctx, e.pool, 1000)
	if err != nil {
		return nil, translateError(err, "list concurrency leases")
	}
	out := make([]ConcurrencyGroup, len(rows))
	for i, r := range rows {
		out[i] = ConcurrencyGroup{Key: r.Key, Running: int(r.Running), Oldest: r.Oldest}
	}
	return out, nil
}

// PromoteReserved moves at most max priority-1 task jobs that have waited at
// least minWait in queue to reservedQueue (see baton.promote_reserved) and
// returns how many moved.
func (e *Engine) PromoteReserved(ctx context.Context, queue, reservedQueue string, minWait time.Duration, max int) (int, error) {
	moved, err := e.queries.PromoteReserved(ctx, e.pool, &dbsqlc.PromoteReservedParams{
		Queue: queue, ReservedQueue: reservedQueue, MinWaitMs: minWait.Milliseconds(), MaxJobs: int32(max),
	})
	if err != nil {
		return 0, translateError(err, "promote high-priority jobs to reserved capacity")
	}
	return int(moved), nil
}
