package alert

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/baton-run/baton/internal/engine"
)

// ErrNoSecretKey is returned when a channel needs a secret sealed or opened
// and the service has no secret key (BATON_SECRET_KEY).
var ErrNoSecretKey = errors.New("no secret key is configured (set BATON_SECRET_KEY)")

// sealer seals channel secrets with AES-256-GCM. A sealed value is the
// 12-byte random nonce followed by the ciphertext and tag; the channel's id
// is not bound in (channels are sealed before they have one), the column is
// only readable by the server role.
type sealer struct {
	aead cipher.AEAD
}

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("alert secret key: want 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("alert secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("alert secret key: %w", err)
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(plain []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return s.aead.Seal(nonce, nonce, plain, []byte("baton.alert_channels"))
}

func (s *sealer) open(sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed secret too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte("baton.alert_channels"))
	if err != nil {
		return nil, errors.New("sealed secret does not open with this key (was BATON_SECRET_KEY changed?)")
	}
	return plain, nil
}

func (s *Service) seal(plain []byte) ([]byte, error) {
	if s.sealer == nil {
		return nil, fmt.Errorf("%w: %w", ErrNoSecretKey, engine.ErrInvalid)
	}
	return s.sealer.seal(plain), nil
}

func (s *Service) open(sealed []byte) ([]byte, error) {
	if s.sealer == nil {
		return nil, ErrNoSecretKey
	}
	return s.sealer.open(sealed)
}

// ParseSecretKey decodes a secret key given as base64 (standard or URL
// alphabet, padded or not) or 64 hex digits; it must be 32 bytes.
func ParseSecretKey(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(text); err == nil && len(key) == 32 {
			return key, nil
		}
	}
	if len(text) == 64 {
		if key, err := hex.DecodeString(text); err == nil {
			return key, nil
		}
	}
	return nil, errors.New("secret key: want 32 bytes as base64 or 64 hex digits")
}

// NewSigningSecret returns a new Standard Webhooks signing secret:
// "whsec_" and 32 random bytes in base64.
func NewSigningSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// signingKey decodes a "whsec_..." secret to its key bytes.
func signingKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return nil, errors.New("must be \"whsec_\" followed by base64")
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, errors.New("must hold 24 to 64 bytes")
	}
	return key, nil
}
