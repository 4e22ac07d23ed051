package specschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	yamlv3 "go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"sigs.k8s.io/yaml"

	"github.com/baton-run/baton/internal/engine"
)

// Problem is one schema violation of a document, located in its file.
type Problem struct {
	// Line and Column are 1-based; 0 when unknown.
	Line, Column int
	// Field is the path of the offending value, such as steps[1].timeout
	// (empty for the whole document).
	Field string
	// Message says what is wrong.
	Message string
}

// Error lists the schema violations of one file. It wraps engine.ErrInvalid.
type Error struct {
	File     string
	Kind     string
	Problems []Problem
}

// Error renders one line per problem: file:line:column: field: message.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		var b strings.Builder
		b.WriteString(e.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", p.Line, p.Column)
		}
		b.WriteString(": ")
		if p.Field != "" {
			b.WriteString(p.Field + ": ")
		}
		b.WriteString(p.Message)
		lines[i] = b.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap makes errors.Is(err, engine.ErrInvalid) hold.
func (e *Error) Unwrap() error { return engine.ErrInvalid }

// Validator validates definition documents against the kinds' schemas. It
// is safe for concurrent use.
type Validator struct {
	schemas map[string]*jsonschema.Schema
	printer *message.Printer
}

// NewValidator compiles every kind's schema.
func NewValidator() (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	v := &Validator{schemas: map[string]*jsonschema.Schema{}, printer: message.NewPrinter(language.English)}
	for _, k := range Kinds() {
		data, err := Schema(k)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", k, err)
		}
		if err := c.AddResource(ID(k), doc); err != nil {
			return nil, fmt.Errorf("schema %s: %w", k, err)
		}
	}
	for _, k := range Kinds() {
		s, err := c.Compile(ID(k))
		if err != nil {
			return nil, fmt.Errorf("compile schema %s: %w", k, err)
		}
		v.schemas[k] = s
	}
	return v, nil
}

// Validate checks one YAML or JSON document (the content of file) against
// the schema of its kind: the `kind` field, or workflow when the document
// has no kind but has steps. It returns the kind, and an *Error whose
// problems carry the line and column of the offending value.
func (v *Validator) Validate(file string, data []byte) (string, error) {
	var root yamlv3.Node
	if err := yamlv3.Unmarshal(data, &root); err != nil {
		return "", &Error{File: file, Problems: []Problem{{Message: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}}
	}
	if root.Kind != yamlv3.DocumentNode || len(root.Content) == 0 {
		return "", &Error{File: file, Problems: []Problem{{Line: 1, Column: 1, Message: "document is empty"}}}
	}
	top := deref(root.Content[0])
	if top.Kind != yamlv3.MappingNode {
		return "", &Error{File: file, Problems: []Problem{{Line: top.Line, Column: top.Column, Message: "document must be a mapping of fields (a JSON object)"}}}
	}
	k, kindNode := "", mappingValue(top, "kind")
	switch {
	case kindNode != nil && kindNode.Kind == yamlv3.ScalarNode:
		k = kindNode.Value
	case kindNode != nil:
		return "", &Error{File: file, Problems: []Problem{{Line: kindNode.Line, Column: kindNode.Column, Field: "kind", Message: "must be a string"}}}
	case mappingValue(top, "steps") != nil:
		k = KindWorkflow
	default:
		return "", &Error{File: file, Problems: []Problem{{Line: top.Line, Column: top.Column, Field: "kind",
			Message: "missing; expected one of " + strings.Join(Kinds(), ", ")}}}
	}
	schema, ok := v.schemas[k]
	if !ok {
		return "", &Error{File: file, Problems: []Problem{{Line: kindNode.Line, Column: kindNode.Column, Field: "kind",
			Message: fmt.Sprintf("unknown kind %q; expected one of %s", k, strings.Join(Kinds(), ", "))}}}
	}

	// The instance is decoded the way the engine decodes documents
	// (sigs.k8s.io/yaml), so both agree on types; the yaml.v3 node tree only
	// gives positions.
	jsonData := bytes.TrimSpace(data)
	if len(jsonData) == 0 || jsonData[0] != '{' || !json.Valid(jsonData) {
		var err error
		if jsonData, err = yaml.YAMLToJSON(data); err != nil {
			return k, &Error{File: file, Kind: k, Problems: []Problem{{Message: "invalid YAML: " + err.Error()}}}
		}
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(jsonData))
	if err != nil {
		return k, &Error{File: file, Kind: k, Problems: []Problem{{Message: "invalid document: " + err.Error()}}}
	}
	err = schema.Validate(inst)
	if err == nil {
		return k, nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return k, &Error{File: file, Kind: k, Problems: []Problem{{Message: err.Error()}}}
	}
	var problems []Problem
	v.collect(verr, top, &problems)
	slices.SortStableFunc(problems, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	problems = slices.Compact(problems)
	return k, &Error{File: file, Kind: k, Problems: problems}
}

// collect appends a located problem for every leaf of the error tree.
func (v *Validator) collect(e *jsonschema.ValidationError, top *yamlv3.Node, out *[]Problem) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			v.collect(c, top, out)
		}
		return
	}
	node, field := locate(top, e.InstanceLocation)
	at := func(n *yamlv3.Node, field, msg string) Problem {
		return Problem{Line: n.Line, Column: n.Column, Field: field, Message: msg}
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		for _, name := range k.Missing {
			*out = append(*out, at(node, joinField(field, name), "required field is missing"))
		}
	case *kind.AdditionalProperties:
		for _, name := range k.Properties {
			keyNode := node
			if node.Kind == yamlv3.MappingNode {
				if kn := mappingKey(node, name); kn != nil {
					keyNode = kn
				}
			}
			*out = append(*out, at(keyNode, joinField(field, name), "unknown field"))
		}
	case *kind.Pattern:
		*out = append(*out, at(node, field, patternMessage(k)))
	default:
		*out = append(*out, at(node, field, e.ErrorKind.LocalizedString(v.printer)))
	}
}

// Patterns used in the Go types' struct tags, explained in words.
const (
	durationPattern = `^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`
	namePattern     = `^[a-z0-9][a-z0-9_.-]{0,99}$`
)

func patternMessage(k *kind.Pattern) string {
	switch k.Want {
	case durationPattern:
		return fmt.Sprintf("must be a duration such as 30s, 5m or 1h30m, not %q", k.Got)
	case namePattern:
		return fmt.Sprintf("must be 1 to 100 lower-case letters, digits, '_', '.' or '-', starting with a letter or digit, not %q", k.Got)
	default:
		return fmt.Sprintf("must match %s, not %q", k.Want, k.Got)
	}
}

// locate walks the node tree along an instance location and returns the
// deepest node reached and the location written as a field path
// (steps[1].timeout).
func locate(top *yamlv3.Node, loc []string) (*yamlv3.Node, string) {
	node, field := top, ""
	for _, seg := range loc {
		node = deref(node)
		switch node.Kind {
		case yamlv3.MappingNode:
			field = joinField(field, seg)
			next := mappingValue(node, seg)
			if next == nil {
				return node, field
			}
			node = next
		case yamlv3.SequenceNode:
			field += "[" + seg + "]"
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(node.Content) {
				return node, field
			}
			node = node.Content[i]
		default:
			return node, joinField(field, seg)
		}
	}
	return deref(node), field
}

func joinField(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// deref follows an alias node to its anchor.
func deref(n *yamlv3.Node) *yamlv3.Node {
	for n.Kind == yamlv3.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// mappingKey returns the key node of key in a mapping node, or nil.
func mappingKey(m *yamlv3.Node, key string) *yamlv3.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

// mappingValue returns the value node of key in a mapping node, or nil.
func mappingValue(m *yamlv3.Node, key string) *yamlv3.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return deref(m.Content[i+1])
		}
	}
	return nil
}
