// Package auth is Baton's access control: API keys with roles (create, list,
// rotate, revoke, authenticate), the dashboard's sessions, and the roles'
// order. Keys are stored as a SHA-256 hash with a short public prefix for
// lookup; a key is shown once, when it is created or rotated.
//
// A key reads "baton_<prefix>_<secret>": prefix is 10 base32 characters
// (50 random bits, public, unique) and secret 52 base32 characters (256
// random bits). With that much entropy a single SHA-256 is enough: there is
// nothing for a slow password hash to protect against.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// Role is what a caller may do. Each role may do everything the roles
// before it may.
type Role string

// The roles, in order.
const (
	// RoleViewer reads.
	RoleViewer Role = "viewer"
	// RoleOperator also starts, cancels, pauses, resumes, skips, retries and
	// resubmits.
	RoleOperator Role = "operator"
	// RoleAdmin also manages definitions, schedules, triggers, alerting and
	// keys.
	RoleAdmin Role = "admin"
)

// Roles lists the roles in order.
var Roles = []Role{RoleViewer, RoleOperator, RoleAdmin}

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleOperator:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Allows reports whether r may do what needs the role need.
func (r Role) Allows(need Role) bool { return r.rank() > 0 && r.rank() >= need.rank() }

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if r.rank() == 0 {
		return "", fmt.Errorf("%w: unknown role %q (want viewer, operator or admin)", ErrInvalid, s)
	}
	return r, nil
}

// Errors.
var (
	// ErrUnauthenticated: the credential is malformed, unknown, revoked or
	// expired. Its text never says which.
	ErrUnauthenticated = errors.New("invalid, revoked or expired credential")
	// ErrNotFound: no key has that name.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a key with that name exists.
	ErrConflict = errors.New("conflict")
	// ErrInvalid wraps errors caused by bad input.
	ErrInvalid = errors.New("invalid input")
)

// Defaults of a new key.
const (
	DefaultRateLimit     = 100 // requests per minute
	DefaultBurst         = 20
	DefaultDailyRunQuota = 1000
)

// Key is an API key as stored, without its secret.
type Key struct {
	ID            int64
	Name          string
	Prefix        string
	Role          Role
	RateLimit     int // requests per minute
	Burst         int
	DailyRunQuota int
	CreatedAt     time.Time
	RotatedAt     *time.Time
	ExpiresAt     *time.Time
	RevokedAt     *time.Time
	LastUsedAt    *time.Time
}

// Usable reports whether the key authenticates at now.
func (k *Key) Usable(now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// CreateParams describes a new key. A zero RateLimit or DailyRunQuota, or
// a nil Burst, takes the default.
type CreateParams struct {
	Name          string
	Role          Role
	RateLimit     int
	Burst         *int
	DailyRunQuota int
	// ExpiresAt is nil for a key that never expires.
	ExpiresAt *time.Time
}

// Options configures a Service.
type Options struct {
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// CacheTTL is how long an authenticated key is trusted without reading
	// it again (default 5 s): a key revoked on another node stops working
	// within it. Revocation on this node is immediate.
	CacheTTL time.Duration
	// SessionTTL is how long a dashboard session lasts (default 12 h).
	SessionTTL time.Duration
}

// Service manages keys and sessions and authenticates requests.
type Service struct {
	pool       *pgxpool.Pool
	q          *dbsqlc.Queries
	logger     *slog.Logger
	now        func() time.Time
	cacheTTL   time.Duration
	sessionTTL time.Duration

	mu    sync.Mutex
	cache map[[32]byte]cached
	used  map[int64]time.Time // last use of each key since the last flush
}

type cached struct {
	principal *Principal
	until     time.Time
}

// maxCached bounds the authentication cache; it is emptied when full.
const maxCached = 10000

// New returns a Service on pool.
func New(pool *pgxpool.Pool, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 5 * time.Second
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	return &Service{
		pool: pool, q: dbsqlc.New(), logger: opts.Logger, now: opts.Now,
		cacheTTL: opts.CacheTTL, sessionTTL: opts.SessionTTL,
		cache: map[[32]byte]cached{}, used: map[int64]time.Time{},
	}
}

// Now returns the service's clock reading.
func (s *Service) Now() time.Time { return s.now() }

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.@-]{0,99}$`)

// ValidateName checks a key name.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w: name %q: want 1 to 100 of a-z 0-9 _ . @ -, starting with a letter or digit", ErrInvalid, name)
	}
	return nil
}

// Create stores a new key and returns it with the key itself, which is
// shown this once.
func (s *Service) Create(ctx context.Context, p CreateParams) (*Key, string, error) {
	if err := ValidateName(p.Name); err != nil {
		return nil, "", err
	}
	if _, err := ParseRole(string(p.Role)); err != nil {
		return nil, "", err
	}
	if p.RateLimit == 0 {
		p.RateLimit = DefaultRateLimit
	}
	burst := DefaultBurst
	if p.Burst != nil {
		burst = *p.Burst
	}
	if p.DailyRunQuota == 0 {
		p.DailyRunQuota = DefaultDailyRunQuota
	}
	switch {
	case p.RateLimit < 1 || p.RateLimit > 1000000:
		return nil, "", fmt.Errorf("%w: rate limit %d: want 1 to 1000000 a minute", ErrInvalid, p.RateLimit)
	case burst < 0 || burst > 1000000:
		return nil, "", fmt.Errorf("%w: burst %d: want 0 to 1000000", ErrInvalid, burst)
	case p.DailyRunQuota < 0 || p.DailyRunQuota > 100000000:
		return nil, "", fmt.Errorf("%w: daily run quota %d: want 0 to 100000000", ErrInvalid, p.DailyRunQuota)
	case p.ExpiresAt != nil && !p.ExpiresAt.After(s.now()):
		return nil, "", fmt.Errorf("%w: expiry %s is not in the future", ErrInvalid, p.ExpiresAt.Format(time.RFC3339))
	}
	token, prefix, hash := newToken()
	row, err := s.q.APIKeyInsert(ctx, s.pool, &dbsqlc.APIKeyInsertParams{
		Name: p.Name, Prefix: prefix, SecretHash: hash[:], Role: string(p.Role),
		RateLimit: int32(p.RateLimit), Burst: int32(burst), DailyRunQuota: int32(p.DailyRunQuota),
		ExpiresAt: p.ExpiresAt,
	})
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "api_keys_name_key" {
			return nil, "", fmt.Errorf("%w: a key named %q exists", ErrConflict, p.Name)
		}
		return nil, "", fmt.Errorf("create key %q: %w", p.Name, err)
	}
	return keyFromRow(row), token, nil
}

// List returns every key, revoked and expired ones included, by name.
func (s *Service) List(ctx context.Context) ([]*Key, error) {
	rows, err := s.q.APIKeyList(ctx, s.pool)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	keys := make([]*Key, len(rows))
	for i, row := range rows {
		keys[i] = keyFromRow(row)
	}
	return keys, nil
}

// Get returns the key named name.
func (s *Service) Get(ctx context.Context, name string) (*Key, error) {
	row, err := s.q.APIKeyGetByName(ctx, s.pool, name)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("key %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get key %q: %w", name, err)
	}
	return keyFromRow(row), nil
}

// Rotate replaces the secret (and prefix) of a key that is not revoked:
// the old key stops working at once, on this node, and within the cache
// TTL on the others. Its sessions end. It returns the new key.
func (s *Service) Rotate(ctx context.Context, name string) (*Key, string, error) {
	token, prefix, hash := newToken()
	var key *Key
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		row, err := s.q.APIKeyRotate(ctx, tx, &dbsqlc.APIKeyRotateParams{Prefix: prefix, SecretHash: hash[:], Now: s.now(), Name: name})
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("key %q (or it is revoked): %w", name, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("rotate key %q: %w", name, err)
		}
		key = keyFromRow(row)
		return s.q.APISessionDeleteByKey(ctx, tx, row.ID)
	})
	if err != nil {
		return nil, "", err
	}
	s.forget(key.ID)
	return key, token, nil
}

// Revoke revokes a key for good (revoking twice keeps the first time).
func (s *Service) Revoke(ctx context.Context, name string) (*Key, error) {
	row, err := s.q.APIKeyRevoke(ctx, s.pool, &dbsqlc.APIKeyRevokeParams{Now: s.now(), Name: name})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("key %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("revoke key %q: %w", name, err)
	}
	s.forget(row.ID)
	return keyFromRow(row), nil
}

// CountUsable returns the number of keys neither revoked nor expired.
func (s *Service) CountUsable(ctx context.Context) (int, error) {
	n, err := s.q.APIKeyCountUsable(ctx, s.pool, s.now())
	if err != nil {
		return 0, fmt.Errorf("count keys: %w", err)
	}
	return int(n), nil
}

// forget drops every cached credential of the key.
func (s *Service) forget(keyID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, c := range s.cache {
		if c.principal.Key.ID == keyID {
			delete(s.cache, h)
		}
	}
}

// Principal is an authenticated caller.
type Principal struct {
	Key *Key
	// CSRFToken is set for a session: state-changing requests must repeat
	// it in the X-Baton-CSRF header.
	CSRFToken string
	// Session is true when the caller authenticated with a session cookie.
	Session bool
}

// Authenticate returns the principal of an API key ("baton_..."). Every
// failure is ErrUnauthenticated, or a wrapped database error.
func (s *Service) Authenticate(ctx context.Context, token string) (*Principal, error) {
	prefix, ok := ParseToken(token)
	if !ok {
		return nil, ErrUnauthenticated
	}
	hash := sha256.Sum256([]byte(token))
	if p := s.lookup(hash); p != nil {
		return p, nil
	}
	row, err := s.q.APIKeyGetByPrefix(ctx, s.pool, prefix)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare(row.SecretHash, hash[:]) != 1 {
		return nil, ErrUnauthenticated
	}
	key := keyFromRow(row)
	if !key.Usable(s.now()) {
		return nil, ErrUnauthenticated
	}
	p := &Principal{Key: key}
	s.remember(hash, p)
	s.touch(key.ID)
	return p, nil
}

// lookup returns the cached principal of a credential hash, if fresh and
// still usable, and records the key's use.
func (s *Service) lookup(hash [32]byte) *Principal {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cache[hash]
	if !ok {
		return nil
	}
	if now.After(c.until) || !c.principal.Key.Usable(now) {
		delete(s.cache, hash)
		return nil
	}
	s.used[c.principal.Key.ID] = now
	return c.principal
}

func (s *Service) remember(hash [32]byte, p *Principal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) >= maxCached {
		clear(s.cache)
	}
	s.cache[hash] = cached{principal: p, until: s.now().Add(s.cacheTTL)}
}

func (s *Service) touch(keyID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used[keyID] = s.now()
}

// FlushInterval is how often Run writes last_used_at.
const FlushInterval = 30 * time.Second

// Run writes the keys' last use every FlushInterval (one statement for all
// keys used since the previous write) and once more when ctx ends, and
// deletes expired sessions every 20 intervals.
func (s *Service) Run(ctx context.Context) error {
	ticker := time.NewTicker(FlushInterval)
	defer ticker.Stop()
	for tick := 1; ; tick++ {
		if tick%20 == 0 {
			if err := s.q.APISessionPurge(ctx, s.pool, s.now()); err != nil && ctx.Err() == nil {
				s.logger.Warn("delete expired sessions", slog.String("error", err.Error()))
			}
		}
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := s.Flush(flushCtx); err != nil {
				s.logger.Warn("write keys' last use", slog.String("error", err.Error()))
			}
			return nil
		case <-ticker.C:
			if err := s.Flush(ctx); err != nil {
				s.logger.Warn("write keys' last use", slog.String("error", err.Error()))
			}
		}
	}
}

// Flush writes the last use of the keys used since the previous Flush.
func (s *Service) Flush(ctx context.Context) error {
	s.mu.Lock()
	used := s.used
	s.used = map[int64]time.Time{}
	s.mu.Unlock()
	if len(used) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(used))
	times := make([]time.Time, 0, len(used))
	for id, t := range used {
		ids = append(ids, id)
		times = append(times, t)
	}
	if err := s.q.APIKeyTouch(ctx, s.pool, &dbsqlc.APIKeyTouchParams{Ids: ids, UsedAt: times}); err != nil {
		return fmt.Errorf("write last use of %d keys: %w", len(ids), err)
	}
	return nil
}

// tokenPrefix starts every key.
const tokenPrefix = "baton_"

var encoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newToken returns a new key, its public prefix and its hash.
func newToken() (token, prefix string, hash [32]byte) {
	prefixBytes := make([]byte, 10) // 50 bits used
	secret := make([]byte, 32)
	_, _ = rand.Read(prefixBytes) // crypto/rand.Read never fails (Go 1.24+)
	_, _ = rand.Read(secret)
	prefix = strings.ToLower(encoding.EncodeToString(prefixBytes))[:10]
	token = tokenPrefix + prefix + "_" + strings.ToLower(encoding.EncodeToString(secret))
	return token, prefix, sha256.Sum256([]byte(token))
}

// tokenLen is the length of a key: "baton_" + 10 + "_" + 52.
const tokenLen = len(tokenPrefix) + 10 + 1 + 52

// ParseToken checks the shape of a key and returns its prefix. It reads
// nothing else: the key is proven by its hash.
func ParseToken(token string) (prefix string, ok bool) {
	if len(token) != tokenLen || !strings.HasPrefix(token, tokenPrefix) || token[len(tokenPrefix)+10] != '_' {
		return "", false
	}
	for i := len(tokenPrefix); i < len(token); i++ {
		if i == len(tokenPrefix)+10 {
			continue
		}
		c := token[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return "", false
		}
	}
	return token[len(tokenPrefix) : len(tokenPrefix)+10], true
}

// BearerToken returns the credential of an Authorization header value
// ("Bearer <token>", the scheme case-insensitive).
func BearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func keyFromRow(row *dbsqlc.BatonApiKey) *Key {
	return &Key{
		ID: row.ID, Name: row.Name, Prefix: row.Prefix, Role: Role(row.Role),
		RateLimit: int(row.RateLimit), Burst: int(row.Burst), DailyRunQuota: int(row.DailyRunQuota),
		CreatedAt: row.CreatedAt, RotatedAt: row.RotatedAt, ExpiresAt: row.ExpiresAt, RevokedAt: row.RevokedAt,
		LastUsedAt: row.LastUsedAt,
	}
}
