package engine

import (
	"encoding/json"
	"fmt"
)

// typeOnlyParam is a param that only a task type's defaults may set: it
// decides what the type's executor exposes (exec's env_allowlist names the
// worker's environment variables a command sees), so neither a workflow step
// nor new params given to a retry or resubmit may widen it.
const typeOnlyParam = "env_allowlist"

// typeOnlyParamIn returns typeOnlyParam when params, a JSON object, sets it.
func typeOnlyParamIn(params json.RawMessage) (string, bool) {
	if len(params) == 0 {
		return "", false
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(params, &keys); err != nil {
		return "", false // not an object: other checks refuse it
	}
	_, ok := keys[typeOnlyParam]
	return typeOnlyParam, ok
}

// checkStepsTypeOnlyParams refuses steps whose own params set a param that
// only their task type may set.
func checkStepsTypeOnlyParams(spec *WorkflowSpec) error {
	var problems []Problem
	for i, step := range spec.Steps {
		if key, ok := typeOnlyParamIn(step.Params); ok {
			problems = append(problems, Problem{
				Field:   fmt.Sprintf("steps[%d].params.%s", i, key),
				Message: "only a task type's defaults may set " + key,
			})
		}
		if step.Compensate == nil {
			continue
		}
		if key, ok := typeOnlyParamIn(step.Compensate.Params); ok {
			problems = append(problems, Problem{
				Field:   fmt.Sprintf("steps[%d].compensate.params.%s", i, key),
				Message: "only a task type's defaults may set " + key,
			})
		}
	}
	if len(problems) > 0 {
		return &ValidationError{Kind: specKindWorkflow, Name: spec.Name, Problems: problems}
	}
	return nil
}

// checkNewParams refuses new params for a retry or resubmit that set a param
// only a task type may set.
func checkNewParams(params json.RawMessage) error {
	if key, ok := typeOnlyParamIn(params); ok {
		return fmt.Errorf("%w: params.%s: only a task type's defaults may set %s", ErrInvalid, key, key)
	}
	return nil
}
