// Package specschema publishes a JSON Schema (draft 2020-12) for every kind
// of definition file baton apply reads (task_type, workflow, schedule,
// trigger) and validates YAML or JSON documents against them, reporting each
// problem with the file's line and column.
//
// The schemas are generated from the Go types that decode the documents
// (engine.TaskTypeSpec, engine.WorkflowSpec, engine.ScheduleSpec,
// trigger.Spec) through Huma's schema registry, so they follow those types:
// their fields, which fields are required, and the constraints written in
// their struct tags (enum, pattern, minimum, maximum). The committed copies
// under api/schemas/ are written by `baton openapi -o api` (make generate).
package specschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/trigger"
)

// Kinds of definition documents.
const (
	KindTaskType = "task_type"
	KindWorkflow = "workflow"
	KindSchedule = "schedule"
	KindTrigger  = "trigger"
)

// Dialect is the JSON Schema dialect of every schema.
const Dialect = "https://json-schema.org/draft/2020-12/schema"

// idBase prefixes each schema's $id.
const idBase = "https://github.com/baton-run/baton/blob/main/api/schemas/"

// kindInfo is what a kind's schema is generated from.
type kindInfo struct {
	typ         reflect.Type
	title       string
	description string
}

// kinds maps each kind to its Go type; a function so no package state is
// mutable.
func kinds() map[string]kindInfo {
	return map[string]kindInfo{
		KindTaskType: {reflect.TypeFor[engine.TaskTypeSpec](), "Baton task type",
			"A task type (kind: task_type): how tasks of this type are executed, retried and timed out."},
		KindWorkflow: {reflect.TypeFor[engine.WorkflowSpec](), "Baton workflow",
			"A workflow (kind: workflow, optional when the document has steps): a DAG of steps."},
		KindSchedule: {reflect.TypeFor[engine.ScheduleSpec](), "Baton schedule",
			"A cron schedule (kind: schedule) that starts runs of a workflow."},
		KindTrigger: {reflect.TypeFor[trigger.Spec](), "Baton trigger",
			"An event trigger (kind: trigger) that starts runs of a workflow when a matching event arrives."},
	}
}

// Kinds lists the kinds that have a schema, sorted.
func Kinds() []string {
	names := make([]string, 0, 4)
	for k := range kinds() {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// ID is the $id of kind's schema.
func ID(kind string) string { return idBase + kind + ".json" }

// Schema returns kind's JSON Schema as indented JSON (with a final newline),
// or an error naming the valid kinds when kind is unknown.
func Schema(kind string) ([]byte, error) {
	info, ok := kinds()[kind]
	if !ok {
		return nil, fmt.Errorf("%w: unknown kind %q; valid kinds are %s", engine.ErrInvalid, kind, strings.Join(Kinds(), ", "))
	}
	const prefix = "#/$defs/"
	reg := huma.NewMapRegistry(prefix, huma.DefaultSchemaNamer)
	ref := reg.Schema(info.typ, true, "")
	defs := reg.Map()
	rootName := strings.TrimPrefix(ref.Ref, prefix)
	root, ok := defs[rootName]
	if !ok {
		return nil, fmt.Errorf("schema of %s: no definition %q", kind, rootName)
	}
	doc, err := toMap(root)
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", kind, err)
	}
	doc["$schema"] = Dialect
	doc["$id"] = ID(kind)
	doc["title"] = info.title
	doc["description"] = info.description
	others := map[string]any{}
	for name, s := range defs {
		if name == rootName {
			continue
		}
		m, err := toMap(s)
		if err != nil {
			return nil, fmt.Errorf("schema of %s: %s: %w", kind, name, err)
		}
		others[name] = m
	}
	if len(others) > 0 {
		doc["$defs"] = others
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", kind, err)
	}
	return append(out, '\n'), nil
}

// toMap round-trips a Huma schema through JSON into a generic map.
func toMap(s *huma.Schema) (map[string]any, error) {
	data, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// WriteFiles writes every kind's schema to dir/KIND.json, creating dir.
func WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("schemas: %w", err)
	}
	for _, kind := range Kinds() {
		data, err := Schema(kind)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, kind+".json"), data, 0o644); err != nil {
			return fmt.Errorf("write schema %s: %w", kind, err)
		}
	}
	return nil
}
