package alert

import (
	"errors"
	"fmt"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/secret"
)

// ErrNoSecretKey is returned when a channel needs a secret sealed or opened
// and the service has no secret key (BATON_SECRET_KEY).
var ErrNoSecretKey = errors.New("no secret key is configured (set BATON_SECRET_KEY)")

// sealedIn is the associated data channel secrets are sealed with; the
// channel's id is not bound in (channels are sealed before they have one),
// the column is only readable by the server role.
const sealedIn = "baton.alert_channels"

func (s *Service) seal(plain []byte) ([]byte, error) {
	if s.sealer == nil {
		return nil, fmt.Errorf("%w: %w", ErrNoSecretKey, engine.ErrInvalid)
	}
	return s.sealer.Seal(plain, sealedIn), nil
}

func (s *Service) open(sealed []byte) ([]byte, error) {
	if s.sealer == nil {
		return nil, ErrNoSecretKey
	}
	return s.sealer.Open(sealed, sealedIn)
}

// ParseSecretKey decodes a secret key given as base64 (standard or URL
// alphabet, padded or not) or 64 hex digits; it must be 32 bytes. It is
// secret.ParseKey.
func ParseSecretKey(text string) ([]byte, error) { return secret.ParseKey(text) }

// NewSigningSecret returns a new Standard Webhooks signing secret:
// "whsec_" and 32 random bytes in base64.
func NewSigningSecret() string { return secret.NewSigningSecret() }

// signingKey decodes a "whsec_..." secret to its key bytes.
func signingKey(s string) ([]byte, error) { return secret.SigningKey(s) }
