package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// Session is a dashboard sign-in: Token goes in an HttpOnly cookie,
// CSRFToken in the X-Baton-CSRF header of state-changing requests.
type Session struct {
	Token     string
	CSRFToken string
	ExpiresAt time.Time
	Key       *Key
}

// sessionTokenLen is the length of a session token or CSRF token: 32
// random bytes in base32.
const sessionTokenLen = 52

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return strings.ToLower(encoding.EncodeToString(b))
}

// CreateSession authenticates an API key and opens a session for it.
func (s *Service) CreateSession(ctx context.Context, key string) (*Session, error) {
	p, err := s.Authenticate(ctx, key)
	if err != nil {
		return nil, err
	}
	now := s.now()
	sess := &Session{Token: randomToken(), CSRFToken: randomToken(), ExpiresAt: now.Add(s.sessionTTL), Key: p.Key}
	if p.Key.ExpiresAt != nil && p.Key.ExpiresAt.Before(sess.ExpiresAt) {
		sess.ExpiresAt = *p.Key.ExpiresAt
	}
	hash := sha256.Sum256([]byte(sess.Token))
	if err := s.q.APISessionInsert(ctx, s.pool, &dbsqlc.APISessionInsertParams{
		TokenHash: hash[:], KeyID: p.Key.ID, CsrfToken: sess.CSRFToken, Now: now, ExpiresAt: sess.ExpiresAt,
	}); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	return sess, nil
}

// AuthenticateSession returns the principal of a session token (from the
// cookie). An unknown, expired or revoked one is ErrUnauthenticated.
func (s *Service) AuthenticateSession(ctx context.Context, token string) (*Principal, error) {
	if len(token) != sessionTokenLen {
		return nil, ErrUnauthenticated
	}
	hash := sha256.Sum256([]byte("session:" + token))
	if p := s.lookup(hash); p != nil {
		return p, nil
	}
	stored := sha256.Sum256([]byte(token))
	row, err := s.q.APISessionGet(ctx, s.pool, stored[:])
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate session: %w", err)
	}
	now := s.now()
	key := keyFromRow(&row.BatonApiKey)
	if !key.Usable(now) || !now.Before(row.SessionExpiresAt) {
		return nil, ErrUnauthenticated
	}
	p := &Principal{Key: key, CSRFToken: row.CsrfToken, Session: true}
	s.remember(hash, p)
	s.touch(key.ID)
	return p, nil
}

// DeleteSession ends a session (signing out). An unknown token is not an
// error.
func (s *Service) DeleteSession(ctx context.Context, token string) error {
	stored := sha256.Sum256([]byte(token))
	if err := s.q.APISessionDelete(ctx, s.pool, stored[:]); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	s.mu.Lock()
	delete(s.cache, sha256.Sum256([]byte("session:"+token)))
	s.mu.Unlock()
	return nil
}
