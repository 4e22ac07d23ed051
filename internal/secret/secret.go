// Package secret seals secrets the server must use again (alert channel
// credentials, webhook signing secrets) with AES-256-GCM under the server's
// key (BATON_SECRET_KEY), and parses that key.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Sealer seals and opens secrets with AES-256-GCM. A sealed value is the
// 12-byte random nonce followed by the ciphertext and tag. The associated
// data names where a secret is kept (a table), so that a value sealed for
// one place does not open in another.
type Sealer struct {
	aead cipher.AEAD
}

// New returns a Sealer for a 32-byte key.
func New(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secret key: want 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal returns plain sealed, bound to the associated data ad.
func (s *Sealer) Seal(plain []byte, ad string) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return s.aead.Seal(nonce, nonce, plain, []byte(ad))
}

// Open returns the plain text of a value Seal returned for ad.
func (s *Sealer) Open(sealed []byte, ad string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed secret too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(ad))
	if err != nil {
		return nil, errors.New("sealed secret does not open with this key (was BATON_SECRET_KEY changed?)")
	}
	return plain, nil
}

// ParseKey decodes a secret key given as base64 (standard or URL alphabet,
// padded or not) or 64 hex digits; it must be 32 bytes.
func ParseKey(text string) ([]byte, error) {
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

// SigningKey decodes a "whsec_..." secret to its key bytes (24 to 64).
func SigningKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return nil, errors.New("must be \"whsec_\" followed by base64")
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, errors.New("must hold 24 to 64 bytes")
	}
	return key, nil
}

// ErrNoKey is returned by a Box without a key (BATON_SECRET_KEY unset).
var ErrNoKey = errors.New("no secret key is configured (set BATON_SECRET_KEY)")

// Box seals and opens the secrets kept in one place (its associated data,
// such as a table name). A Box made without a key refuses both with
// ErrNoKey, so that a server without BATON_SECRET_KEY still starts.
type Box struct {
	sealer *Sealer
	ad     string
}

// NewBox returns a Box for place; key may be nil (no key).
func NewBox(key []byte, place string) (*Box, error) {
	b := &Box{ad: place}
	if key != nil {
		s, err := New(key)
		if err != nil {
			return nil, err
		}
		b.sealer = s
	}
	return b, nil
}

// Seal seals plain for the Box's place.
func (b *Box) Seal(plain []byte) ([]byte, error) {
	if b.sealer == nil {
		return nil, ErrNoKey
	}
	return b.sealer.Seal(plain, b.ad), nil
}

// Open opens a value sealed for the Box's place.
func (b *Box) Open(sealed []byte) ([]byte, error) {
	if b.sealer == nil {
		return nil, ErrNoKey
	}
	return b.sealer.Open(sealed, b.ad)
}
