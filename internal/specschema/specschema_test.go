package specschema

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
)

// repoRoot is the module root, two levels up from this package.
const repoRoot = "../.."

// TestSchemasCommitted: api/schemas/KIND.json is exactly what Schema
// generates from the Go types (run make generate when this fails), and each
// is a draft 2020-12 schema with its $id.
func TestSchemasCommitted(t *testing.T) {
	require.Equal(t, []string{"schedule", "task_type", "trigger", "workflow"}, Kinds())
	for _, k := range Kinds() {
		want, err := Schema(k)
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(repoRoot, "api", "schemas", k+".json"))
		require.NoError(t, err, "run make generate")
		require.Equal(t, string(want), string(got), "api/schemas/%s.json is stale: run make generate", k)
		var doc map[string]any
		require.NoError(t, json.Unmarshal(got, &doc))
		require.Equal(t, Dialect, doc["$schema"])
		require.Equal(t, ID(k), doc["$id"])
	}
	_, err := Schema("nope")
	require.ErrorIs(t, err, engine.ErrInvalid)
	require.ErrorContains(t, err, "schedule, task_type, trigger, workflow")
}

// TestExamplesValid: every file under examples/ passes its kind's schema.
func TestExamplesValid(t *testing.T) {
	v, err := NewValidator()
	require.NoError(t, err)
	n := 0
	err = filepath.WalkDir(filepath.Join(repoRoot, "examples"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		k, err := v.Validate(p, data)
		require.NoError(t, err, p)
		require.NotEmpty(t, k)
		n++
		return nil
	})
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 6)
}

var yamlBlock = regexp.MustCompile("(?s)```ya?ml\n(.*?)```")
var kindLine = regexp.MustCompile(`(?m)^kind: *(task_type|workflow|schedule|trigger)\b`)

// TestDocsYAMLValid: every YAML block of the docs that is a whole document
// of a kind (a top-level `kind:` line of a known kind; blocks split at
// `---`) passes its schema.
func TestDocsYAMLValid(t *testing.T) {
	v, err := NewValidator()
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	require.NoError(t, err)
	files = append(files, filepath.Join(repoRoot, "README.md"))
	seen := map[string]int{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		for _, m := range yamlBlock.FindAllStringSubmatch(string(data), -1) {
			for _, block := range strings.Split(m[1], "\n---\n") {
				if !kindLine.MatchString(block) {
					continue
				}
				k, err := v.Validate(f, []byte(block))
				require.NoError(t, err, "%s:\n%s", f, block)
				seen[k]++
			}
		}
	}
	t.Logf("documents checked per kind: %v", seen)
	for _, k := range Kinds() {
		require.NotZero(t, seen[k], "no %s document found in the docs", k)
	}
}

// TestBadDocumentLocated: each violation is reported as
// file:line:column: field: message, at the offending value (or key).
func TestBadDocumentLocated(t *testing.T) {
	v, err := NewValidator()
	require.NoError(t, err)
	doc := `kind: workflow
name: bad
steps:
  - name: a
    type: shell
  - name: b
    type: shell
    timeout: soon
    when: sometimes
    retries: 3
  - type: shell
`
	k, err := v.Validate("wf.yaml", []byte(doc))
	require.Equal(t, KindWorkflow, k)
	var serr *Error
	require.ErrorAs(t, err, &serr)
	require.ErrorIs(t, err, engine.ErrInvalid)
	require.Equal(t, strings.Join([]string{
		`wf.yaml:8:14: steps[1].timeout: must be a duration such as 30s, 5m or 1h30m, not "soon"`,
		`wf.yaml:9:11: steps[1].when: value must be one of 'on_success', 'on_failure', 'always'`,
		`wf.yaml:10:5: steps[1].retries: unknown field`,
		`wf.yaml:11:5: steps[2].name: required field is missing`,
	}, "\n"), err.Error())

	// Types, ranges, unknown kinds and JSON documents are located too.
	_, err = v.Validate("t.yaml", []byte("kind: task_type\nname: x\nexecutor: http\npriority: 9\nmax_retries: many\n"))
	require.EqualError(t, err, "t.yaml:4:11: priority: maximum: got 9, want 4\nt.yaml:5:14: max_retries: got string, want integer")
	_, err = v.Validate("k.yaml", []byte("name: x\nkind: cronjob\n"))
	require.EqualError(t, err, `k.yaml:2:7: kind: unknown kind "cronjob"; expected one of schedule, task_type, trigger, workflow`)
	_, err = v.Validate("s.json", []byte("{\n  \"kind\": \"schedule\",\n  \"name\": \"n\",\n  \"workflow\": \"w\",\n  \"cron\": \"@daily\",\n  \"overlap\": \"never\"\n}"))
	require.EqualError(t, err, `s.json:6:14: overlap: value must be one of 'allow', 'skip', 'cancel_previous', 'queue'`)
	_, err = v.Validate("tr.yaml", []byte("kind: trigger\nname: t\nworkflow: w\n"))
	require.EqualError(t, err, "tr.yaml:1:1: event_type: required field is missing")
}

// BenchmarkValidate measures checking examples/workflows/release-pipeline.yaml.
func BenchmarkValidate(b *testing.B) {
	v, err := NewValidator()
	require.NoError(b, err)
	data, err := os.ReadFile(filepath.Join(repoRoot, "examples", "workflows", "release-pipeline.yaml"))
	require.NoError(b, err)
	for b.Loop() {
		if _, err := v.Validate("release-pipeline.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewValidator measures generating and compiling the four schemas.
func BenchmarkNewValidator(b *testing.B) {
	for b.Loop() {
		if _, err := NewValidator(); err != nil {
			b.Fatal(err)
		}
	}
}
