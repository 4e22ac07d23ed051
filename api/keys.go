package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/auth"
	"github.com/baton-run/baton/internal/ratelimit"
)

const tagAccess = "Access"

// APIKey is an API key as listed: never its secret.
type APIKey struct {
	Name          string     `json:"name" example:"ci-deploy"`
	Prefix        string     `json:"prefix" example:"k3jx7q2mwa" doc:"The key's public prefix: a key reads baton_PREFIX_SECRET."`
	Role          string     `json:"role" enum:"viewer,operator,admin"`
	RateLimit     int        `json:"rate_limit" example:"100" doc:"Requests a minute."`
	Burst         int        `json:"burst" example:"20" doc:"Requests allowed above the rate in a burst."`
	DailyRunQuota int        `json:"daily_run_quota" example:"1000" doc:"Runs the key may start per UTC day."`
	CreatedAt     time.Time  `json:"created_at"`
	RotatedAt     *time.Time `json:"rotated_at"`
	ExpiresAt     *time.Time `json:"expires_at" doc:"Null: never expires."`
	RevokedAt     *time.Time `json:"revoked_at"`
	LastUsedAt    *time.Time `json:"last_used_at" doc:"Written every 30 s by each API process, so up to that much behind."`
}

// NewAPIKey is a key just created or rotated, with the key itself.
type NewAPIKey struct {
	APIKey
	Key string `json:"key" example:"baton_k3jx7q2mwa_abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuv" doc:"The key itself, shown this once: only its hash is stored."`
}

// APIKeyList is the body of list-keys.
type APIKeyList struct {
	Keys []APIKey `json:"keys"`
}

// CreateAPIKeyRequest is the body of create-key.
type CreateAPIKeyRequest struct {
	Name          string     `json:"name" pattern:"^[a-z0-9][a-z0-9_.@-]{0,99}$" example:"ci-deploy" doc:"Unique; recorded as the actor of the key's actions."`
	Role          string     `json:"role" enum:"viewer,operator,admin" example:"operator"`
	RateLimit     int        `json:"rate_limit,omitempty" minimum:"1" maximum:"1000000" example:"100" doc:"Requests a minute (default 100)."`
	Burst         *int       `json:"burst,omitempty" minimum:"0" maximum:"1000000" example:"20" doc:"Requests above the rate allowed in a burst (default 20)."`
	DailyRunQuota int        `json:"daily_run_quota,omitempty" minimum:"0" maximum:"100000000" example:"1000" doc:"Runs a UTC day (default 1000)."`
	ExpiresAt     *time.Time `json:"expires_at,omitempty" doc:"When the key stops working; never when left out."`
}

// SessionRequest is the body of create-session.
type SessionRequest struct {
	Key string `json:"key" minLength:"1" maxLength:"200" example:"baton_k3jx7q2mwa_abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuv" doc:"An API key."`
}

// Session is a dashboard session: the cookie is HttpOnly, so the page
// keeps only the CSRF token.
type Session struct {
	CSRFToken string    `json:"csrf_token" doc:"Send it in the X-Baton-CSRF header of every state-changing request."`
	ExpiresAt time.Time `json:"expires_at"`
	Name      string    `json:"name" example:"alice" doc:"The key's name."`
	Role      string    `json:"role" enum:"viewer,operator,admin"`
}

// Me describes the caller.
type Me struct {
	Name          string     `json:"name" example:"ci-deploy" doc:"The key's name; \"anonymous\" without one."`
	Role          string     `json:"role" enum:"viewer,operator,admin"`
	Anonymous     bool       `json:"anonymous"`
	Session       bool       `json:"session" doc:"Whether the caller authenticated with the session cookie."`
	CSRFToken     string     `json:"csrf_token,omitempty" doc:"The session's CSRF token (session callers only)."`
	RateLimit     int        `json:"rate_limit" doc:"Requests a minute; 0 when not limited."`
	Burst         int        `json:"burst"`
	DailyRunQuota int        `json:"daily_run_quota" doc:"0 when not limited."`
	RunsToday     int        `json:"runs_today" doc:"Runs started today (UTC) against the quota."`
	QuotaResetsAt string     `json:"quota_resets_at,omitempty" example:"2026-12-02T00:00:00Z" doc:"When the daily quota starts again."`
	ExpiresAt     *time.Time `json:"expires_at"`
}

type keyNameInput struct {
	Name string `path:"name" pattern:"^[a-z0-9][a-z0-9_.@-]{0,99}$" doc:"The key's name."`
}

type createKeyInput struct {
	Body CreateAPIKeyRequest
}

type keyOutput struct {
	Body APIKey
}

type newKeyOutput struct {
	Body NewAPIKey
}

type keyListOutput struct {
	Body APIKeyList
}

type sessionInput struct {
	Body SessionRequest
}

type sessionOutput struct {
	SetCookie string `header:"Set-Cookie" doc:"The session cookie (HttpOnly, SameSite=Strict, Secure over TLS)."`
	Body      Session
}

type deleteSessionOutput struct {
	SetCookie string `header:"Set-Cookie" doc:"Expires the session cookie."`
}

type sessionCookieInput struct {
	Session string `cookie:"baton_session" doc:"The session cookie."`
}

type meOutput struct {
	Body Me
}

// registerAccess registers the keys, sessions and caller operations (v2
// only).
func registerAccess(api huma.API, h *handlers) {
	huma.Register(api, huma.Operation{
		OperationID: "list-keys", Method: http.MethodGet, Path: "/keys", Summary: "List API keys",
		Description: "Lists every key, revoked and expired ones included, without secrets. Admin only.",
		Tags:        []string{tagAccess}, Errors: errorStatuses(),
	}, h.listKeys)
	huma.Register(api, huma.Operation{
		OperationID: "create-key", Method: http.MethodPost, Path: "/keys", Summary: "Create an API key",
		Description: "Creates a key and answers it once in `key`: only its hash is stored. Admin only.",
		Tags:        []string{tagAccess}, DefaultStatus: http.StatusCreated,
		Errors: errorStatuses(http.StatusConflict, http.StatusUnprocessableEntity),
	}, h.createKey)
	huma.Register(api, huma.Operation{
		OperationID: "rotate-key", Method: http.MethodPost, Path: "/keys/{name}/rotate", Summary: "Rotate an API key",
		Description: "Replaces the key's secret and prefix and answers the new key once; the old one stops working and its sessions end. Admin only.",
		Tags:        []string{tagAccess}, Errors: errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.rotateKey)
	huma.Register(api, huma.Operation{
		OperationID: "revoke-key", Method: http.MethodPost, Path: "/keys/{name}/revoke", Summary: "Revoke an API key",
		Description: "Revokes the key for good. Other API processes stop accepting it within 5 s. Admin only.",
		Tags:        []string{tagAccess}, Errors: errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.revokeKey)
	huma.Register(api, huma.Operation{
		OperationID: "create-session", Method: http.MethodPost, Path: "/sessions", Summary: "Sign in with an API key",
		Description: "Opens a dashboard session for an API key: the answer sets the HttpOnly, SameSite=Strict session cookie (Secure over TLS) and gives the CSRF token that state-changing requests must repeat in X-Baton-CSRF.",
		Tags:        []string{tagAccess}, DefaultStatus: http.StatusCreated,
		Errors: errorStatuses(http.StatusUnauthorized, http.StatusUnprocessableEntity),
	}, h.createSession)
	huma.Register(api, huma.Operation{
		OperationID: "delete-session", Method: http.MethodDelete, Path: "/sessions/current", Summary: "Sign out",
		Description: "Ends the session of the cookie sent, if any, and expires the cookie.",
		Tags:        []string{tagAccess}, DefaultStatus: http.StatusNoContent, Errors: errorStatuses(),
	}, h.deleteSession)
	huma.Register(api, huma.Operation{
		OperationID: "get-me", Method: http.MethodGet, Path: "/me", Summary: "Describe the caller",
		Description: "The caller's key name and role, its rate limit, and its runs today against its daily quota.",
		Tags:        []string{tagAccess}, Errors: errorStatuses(),
	}, h.getMe)
}

func (h *handlers) keys() (*auth.Service, error) {
	if h.access == nil || h.access.Keys == nil {
		return nil, huma.Error503ServiceUnavailable("access control is off on this server")
	}
	return h.access.Keys, nil
}

func (h *handlers) listKeys(ctx context.Context, _ *struct{}) (*keyListOutput, error) {
	svc, err := h.keys()
	if err != nil {
		return nil, err
	}
	keys, err := svc.List(ctx)
	if err != nil {
		return nil, h.accessProblem(ctx, err)
	}
	out := &keyListOutput{Body: APIKeyList{Keys: make([]APIKey, len(keys))}}
	for i, k := range keys {
		out.Body.Keys[i] = keyBody(k)
	}
	return out, nil
}

func (h *handlers) createKey(ctx context.Context, in *createKeyInput) (*newKeyOutput, error) {
	svc, err := h.keys()
	if err != nil {
		return nil, err
	}
	b := in.Body
	key, token, err := svc.Create(ctx, auth.CreateParams{
		Name: b.Name, Role: auth.Role(b.Role), RateLimit: b.RateLimit, Burst: b.Burst,
		DailyRunQuota: b.DailyRunQuota, ExpiresAt: b.ExpiresAt,
	})
	if err != nil {
		return nil, h.accessProblem(ctx, err)
	}
	return &newKeyOutput{Body: NewAPIKey{APIKey: keyBody(key), Key: token}}, nil
}

func (h *handlers) rotateKey(ctx context.Context, in *keyNameInput) (*newKeyOutput, error) {
	svc, err := h.keys()
	if err != nil {
		return nil, err
	}
	key, token, err := svc.Rotate(ctx, in.Name)
	if err != nil {
		return nil, h.accessProblem(ctx, err)
	}
	return &newKeyOutput{Body: NewAPIKey{APIKey: keyBody(key), Key: token}}, nil
}

func (h *handlers) revokeKey(ctx context.Context, in *keyNameInput) (*keyOutput, error) {
	svc, err := h.keys()
	if err != nil {
		return nil, err
	}
	key, err := svc.Revoke(ctx, in.Name)
	if err != nil {
		return nil, h.accessProblem(ctx, err)
	}
	return &keyOutput{Body: keyBody(key)}, nil
}

func (h *handlers) createSession(ctx context.Context, in *sessionInput) (*sessionOutput, error) {
	svc, err := h.keys()
	if err != nil {
		return nil, err
	}
	sess, err := svc.CreateSession(ctx, in.Body.Key)
	if err != nil {
		return nil, h.accessProblem(ctx, err)
	}
	c := callerFrom(ctx)
	cookie := &http.Cookie{
		Name: SessionCookie, Value: sess.Token, Path: "/", Expires: sess.ExpiresAt,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c != nil && c.tls,
	}
	return &sessionOutput{SetCookie: cookie.String(), Body: Session{
		CSRFToken: sess.CSRFToken, ExpiresAt: sess.ExpiresAt, Name: sess.Key.Name, Role: string(sess.Key.Role),
	}}, nil
}

func (h *handlers) deleteSession(ctx context.Context, in *sessionCookieInput) (*deleteSessionOutput, error) {
	if svc, err := h.keys(); err == nil && in.Session != "" {
		if err := svc.DeleteSession(ctx, in.Session); err != nil {
			return nil, h.accessProblem(ctx, err)
		}
	}
	c := callerFrom(ctx)
	cookie := &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c != nil && c.tls}
	return &deleteSessionOutput{SetCookie: cookie.String()}, nil
}

func (h *handlers) getMe(ctx context.Context, _ *struct{}) (*meOutput, error) {
	c := callerFrom(ctx)
	me := Me{Name: "anonymous", Role: string(auth.RoleAdmin), Anonymous: true}
	if c != nil && c.principal == nil {
		me.Role = string(c.role)
	}
	if c != nil && c.principal != nil {
		k := c.principal.Key
		me = Me{Name: k.Name, Role: string(k.Role), Session: c.principal.Session, CSRFToken: c.principal.CSRFToken,
			RateLimit: k.RateLimit, Burst: k.Burst, DailyRunQuota: k.DailyRunQuota, ExpiresAt: k.ExpiresAt}
		if h.access.Limiter != nil {
			n, err := h.access.Limiter.RunsToday(ctx, k.ID)
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			me.RunsToday = n
			me.QuotaResetsAt = ratelimit.Day(h.access.Limiter.Now()).AddDate(0, 0, 1).Format(time.RFC3339)
		}
	} else if h.access != nil && h.access.Limiter != nil {
		me.RateLimit, me.Burst = h.access.AnonymousPolicy.Limit, h.access.AnonymousPolicy.Burst
	}
	return &meOutput{Body: me}, nil
}

// takeRunQuota counts a run about to start against the caller's daily
// quota; the returned func gives it back and must be called when the run
// does not start (or was an idempotent replay). Callers without a key, or
// servers without a limiter, have no quota.
func (h *handlers) takeRunQuota(ctx context.Context) (refund func(), err error) {
	return h.takeRunsQuota(ctx, 1)
}

// takeRunsQuota is takeRunQuota for n runs started together (a batch).
func (h *handlers) takeRunsQuota(ctx context.Context, n int) (refund func(), err error) {
	key := keyOf(ctx)
	if key == nil || h.access == nil || h.access.Limiter == nil {
		return func() {}, nil
	}
	limiter := h.access.Limiter
	if _, err := limiter.TakeRuns(ctx, key.ID, key.Name, key.DailyRunQuota, n); err != nil {
		if errors.Is(err, ratelimit.ErrQuotaExceeded) {
			reset := ratelimit.Day(limiter.Now()).AddDate(0, 0, 1)
			retry := int(reset.Sub(limiter.Now()).Seconds()) + 1
			return nil, huma.ErrorWithHeaders(&huma.ErrorModel{
				Type: problemQuotaExceeded, Title: http.StatusText(http.StatusTooManyRequests), Status: http.StatusTooManyRequests,
				Detail: "the key's daily quota of " + strconv.Itoa(key.DailyRunQuota) + " runs is used up; it resets at " + reset.Format(time.RFC3339),
			}, http.Header{"Retry-After": {strconv.Itoa(retry)}})
		}
		return nil, h.problem(ctx, err)
	}
	return func() {
		if err := limiter.RefundRuns(context.WithoutCancel(ctx), key.ID, n); err != nil {
			h.logger.WarnContext(ctx, "refund run quota", "key", key.Name, "error", err.Error())
		}
	}, nil
}

// accessProblem maps the auth package's errors to problems.
func (h *handlers) accessProblem(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		return huma.Error401Unauthorized("the API key is invalid, revoked or expired")
	case errors.Is(err, auth.ErrNotFound):
		return huma.Error404NotFound(err.Error())
	case errors.Is(err, auth.ErrConflict):
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, auth.ErrInvalid):
		return huma.Error422UnprocessableEntity(err.Error())
	}
	return h.problem(ctx, err)
}

func keyBody(k *auth.Key) APIKey {
	return APIKey{
		Name: k.Name, Prefix: k.Prefix, Role: string(k.Role), RateLimit: k.RateLimit, Burst: k.Burst,
		DailyRunQuota: k.DailyRunQuota, CreatedAt: k.CreatedAt, RotatedAt: k.RotatedAt, ExpiresAt: k.ExpiresAt,
		RevokedAt: k.RevokedAt, LastUsedAt: k.LastUsedAt,
	}
}
