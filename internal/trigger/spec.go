package trigger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/baton-run/baton/internal/engine"
)

// Spec is a trigger as written in a YAML or JSON file for baton apply:
//
//	kind: trigger
//	name: deploy-on-push
//	event_type: github.push
//	condition: '$.ref == "refs/heads/main"'
//	workflow: deploy
//	input: {commit: "{{ .payload.after }}"}
//	dedup_window: 1h
//	secret_env: GITHUB_HOOK_SECRET
//
// The webhook secret is never written in the file: secret_env names the
// environment variable holding it.
type Spec struct {
	Kind        string          `json:"kind" enum:"trigger"`
	Name        string          `json:"name" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$"`
	EventType   string          `json:"event_type" pattern:"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$"`
	Condition   string          `json:"condition,omitempty"`
	Workflow    string          `json:"workflow" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$"`
	Input       json.RawMessage `json:"input,omitempty"`
	DedupWindow string          `json:"dedup_window,omitempty" pattern:"^(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$"`
	Enabled     *bool           `json:"enabled,omitempty"`
	SecretEnv   string          `json:"secret_env,omitempty"`
	Description string          `json:"description,omitempty"`
}

// IsSpec tells whether a definition file's document has kind: trigger.
func IsSpec(data []byte) bool {
	jsonData, err := yaml.YAMLToJSON(data)
	if err != nil {
		return false
	}
	var top struct {
		Kind string `json:"kind"`
	}
	return json.Unmarshal(jsonData, &top) == nil && top.Kind == "trigger"
}

// ParseSpec decodes a kind: trigger document into Params, refusing unknown
// fields; getenv reads secret_env (os.Getenv when nil).
func ParseSpec(data []byte, getenv func(string) string) (Params, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	jsonData, err := yaml.YAMLToJSON(data)
	if err != nil {
		return Params{}, fmt.Errorf("%w: %s", engine.ErrInvalid, err)
	}
	var spec Spec
	dec := json.NewDecoder(bytes.NewReader(jsonData))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		field := ""
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			field = strings.Trim(f, `"`)
			return Params{}, invalid(spec.Name, []engine.Problem{{Field: field, Message: "unknown field"}})
		}
		return Params{}, invalid(spec.Name, []engine.Problem{{Message: err.Error()}})
	}
	p := Params{Name: spec.Name, EventType: spec.EventType, Condition: spec.Condition, Workflow: spec.Workflow,
		InputTemplate: spec.Input, Enabled: spec.Enabled, Description: spec.Description}
	if spec.DedupWindow != "" {
		d, err := time.ParseDuration(spec.DedupWindow)
		if err != nil {
			return Params{}, invalid(spec.Name, []engine.Problem{{Field: "dedup_window", Message: "must be a duration such as 30m or 24h"}})
		}
		p.DedupWindow = &d
	}
	if spec.SecretEnv != "" {
		v := getenv(spec.SecretEnv)
		if v == "" {
			return Params{}, invalid(spec.Name, []engine.Problem{{Field: "secret_env", Message: fmt.Sprintf("environment variable %s is empty", spec.SecretEnv)}})
		}
		p.Secret = &v
	}
	return p, nil
}
