package engine

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on user JSON (run input, step params, task-type defaults), the same
// as baton._check_json applies in SQL.
const (
	// MaxJSONDepth is how deeply objects and arrays may nest; the value
	// itself is level 1.
	MaxJSONDepth = 64
	// DefaultMaxJSONBytes is the default and largest size of one JSON value:
	// baton._check_json refuses bigger ones whatever Options.MaxJSONBytes says.
	DefaultMaxJSONBytes = 1 << 20
)

// Limits on the other values a run is started with, the same as
// baton._check_start_opts applies in SQL.
const (
	maxIdempotencyKeyLength = 200
	maxOwnerLength          = 200
	maxRunTags              = 50
	maxVersion              = 1<<31 - 1
)

var errNUL = errors.New(`must not contain a NUL character (\u0000)`)

// CheckText returns an error unless s is valid UTF-8 without NUL characters,
// which PostgreSQL text cannot hold.
func CheckText(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("must be valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return errNUL
	}
	return nil
}

// CheckJSON returns an error unless raw, a JSON text, is at most maxBytes
// long (0 means DefaultMaxJSONBytes), valid UTF-8, nested at most
// MaxJSONDepth levels and free of \u0000 escapes in its strings and keys
// (PostgreSQL's jsonb refuses those). It does not check the syntax: a
// decoder does that.
func CheckJSON(raw []byte, maxBytes int) error {
	if maxBytes <= 0 || maxBytes > DefaultMaxJSONBytes {
		maxBytes = DefaultMaxJSONBytes
	}
	if len(raw) > maxBytes {
		return fmt.Errorf("must be at most %d bytes of JSON, got %d", maxBytes, len(raw))
	}
	if !utf8.Valid(raw) {
		return errors.New("must be valid UTF-8")
	}
	depth, inString, escaped := 0, false, false
	for i, c := range raw {
		switch {
		case escaped:
			escaped = false
			if c == 'u' && bytes.HasPrefix(raw[i+1:], []byte("0000")) {
				return errNUL
			}
		case inString:
			switch c {
			case '\\':
				escaped = true
			case '"':
				inString = false
			case 0:
				return errNUL
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > MaxJSONDepth {
				return fmt.Errorf("must be nested at most %d levels deep", MaxJSONDepth)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// validate checks p as baton._start_run does, so that library callers get a
// *ValidationError naming each culprit rather than a database error.
func (p *StartParams) validate(maxJSONBytes int) error {
	var problems specProblems
	if p.Workflow == "" {
		problems.add("workflow", "required")
	} else if err := CheckText(p.Workflow); err != nil {
		problems.add("workflow", "%s", err.Error())
	}
	if p.Version < 0 || p.Version > maxVersion {
		problems.add("version", "must be between 1 and %d, got %d", maxVersion, p.Version)
	}
	if len(p.Input) > 0 {
		if err := CheckJSON(p.Input, maxJSONBytes); err != nil {
			problems.add("input", "%s", err.Error())
		} else if _, err := specDecodeObject(p.Input); err != nil {
			problems.add("input", "%s", err.Error())
		}
	}
	p.checkString(&problems, "idempotency_key", p.IdempotencyKey, maxIdempotencyKeyLength)
	if p.Priority < 0 || p.Priority > specMaxPriority {
		problems.add("priority", "must be between %d and %d, got %d", specMinPriority, specMaxPriority, p.Priority)
	}
	p.checkString(&problems, "owner", p.Owner, maxOwnerLength)
	if len(p.Tags) > maxRunTags {
		problems.add("tags", "must hold at most %d tags, got %d", maxRunTags, len(p.Tags))
	}
	for i, tag := range p.Tags {
		field := fmt.Sprintf("tags[%d]", i)
		if tag == "" {
			problems.add(field, "must not be empty")
		}
		p.checkString(&problems, field, tag, specMaxTagLength)
	}
	p.checkString(&problems, "trigger_ref", p.TriggerRef, 400)
	return problems.err("run", p.Workflow)
}

func (p *StartParams) checkString(problems *specProblems, field, value string, maxLength int) {
	if err := CheckText(value); err != nil {
		problems.add(field, "%s", err.Error())
		return
	}
	if n := utf8.RuneCountInString(value); n > maxLength {
		problems.add(field, "must be at most %d characters, got %d", maxLength, n)
	}
}
