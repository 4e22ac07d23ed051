package resilience

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/baton-run/baton/internal/engine"
)

// Default settings of a circuit breaker.
const (
	DefaultFailureRate = 0.5
	DefaultWindow      = 10
	DefaultCooldown    = 30 * time.Second
)

// Limits of the settings, as the database checks them.
const (
	maxWindow = 1000
	maxKeyLen = 400
)

// Settings configure a circuit breaker. Zero fields take the defaults.
type Settings struct {
	// FailureRate opens the breaker when more than this share of the last
	// Window attempts failed; between 0 and 1 exclusive. Default 0.5.
	FailureRate float64
	// Window is how many recent outcomes are considered, 1 to 1000.
	// Default 10.
	Window int
	// Cooldown is how long the breaker stays open before it lets a probe
	// through. Default 30s.
	Cooldown time.Duration
}

// SettingsFrom returns the settings a task type's circuit-breaker spec
// configures, with defaults for its empty fields (all defaults for a nil
// spec). Bad values return an error wrapping engine.ErrInvalid.
func SettingsFrom(spec *engine.CircuitBreakerSpec) (Settings, error) {
	var s Settings
	if spec != nil {
		s.FailureRate = spec.FailureRate
		s.Window = spec.Window
		if spec.Cooldown != "" {
			d, err := time.ParseDuration(spec.Cooldown)
			if err != nil {
				return Settings{}, fmt.Errorf("circuit_breaker.cooldown: invalid duration %q: %w", spec.Cooldown, engine.ErrInvalid)
			}
			s.Cooldown = d
		}
	}
	s = s.withDefaults()
	if err := s.validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// withDefaults returns s with defaults for its zero fields.
func (s Settings) withDefaults() Settings {
	if s.FailureRate == 0 {
		s.FailureRate = DefaultFailureRate
	}
	if s.Window == 0 {
		s.Window = DefaultWindow
	}
	if s.Cooldown == 0 {
		s.Cooldown = DefaultCooldown
	}
	return s
}

// validate checks settings with defaults applied.
func (s Settings) validate() error {
	switch {
	case s.FailureRate <= 0 || s.FailureRate >= 1:
		return fmt.Errorf("circuit_breaker.failure_rate: must be between 0 and 1 (exclusive), got %v: %w", s.FailureRate, engine.ErrInvalid)
	case s.Window < 1 || s.Window > maxWindow:
		return fmt.Errorf("circuit_breaker.window: must be between 1 and %d, got %d: %w", maxWindow, s.Window, engine.ErrInvalid)
	case s.Cooldown < time.Millisecond:
		return fmt.Errorf("circuit_breaker.cooldown: must be at least 1ms, got %v: %w", s.Cooldown, engine.ErrInvalid)
	}
	return nil
}

// resolve returns s with defaults, checked, for breaker key.
func (s Settings) resolve(key string) (Settings, error) {
	if key == "" || len(key) > maxKeyLen {
		return Settings{}, fmt.Errorf("circuit breaker key must be 1 to %d bytes, got %d: %w", maxKeyLen, len(key), engine.ErrInvalid)
	}
	s = s.withDefaults()
	if err := s.validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// HostKey returns the key of a per-host breaker: "type:host", the host
// (lowercased, without port) taken from params.url. Pass rendered params: a
// url that is missing, a template or has no host gives the task type's
// name, the key of the type's breaker.
func HostKey(taskType string, params json.RawMessage) string {
	var p struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(params, &p); err != nil || p.URL == "" {
		return taskType
	}
	u, err := url.Parse(p.URL)
	if err != nil || u.Hostname() == "" || strings.Contains(p.URL, "{{") {
		return taskType
	}
	key := taskType + ":" + strings.ToLower(u.Hostname())
	if len(key) > maxKeyLen {
		return taskType
	}
	return key
}
