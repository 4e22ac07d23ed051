package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/auth"
	"github.com/baton-run/baton/internal/ratelimit"
)

// Access configures access control. A nil Options.Access serves every
// request as an anonymous admin, without rate limits: for embedding the
// API in a program of one's own, and for tests.
type Access struct {
	// Keys authenticates API keys and dashboard sessions (required).
	Keys *auth.Service
	// Limiter enforces rate limits and run quotas; nil: none.
	Limiter *ratelimit.Limiter
	// Anonymous says who may call without a credential.
	Anonymous Anonymous
	// AnonymousPolicy is the per-client-IP rate limit of anonymous requests
	// (default 100 a minute, burst 20).
	AnonymousPolicy ratelimit.Policy
}

// Anonymous says who may call the API without a credential.
type Anonymous int

const (
	// AnonymousNone: every operation but the probes, the OpenAPI documents
	// and sign-in needs a key (baton serve).
	AnonymousNone Anonymous = iota
	// AnonymousLoopback: requests from a loopback address whose Host header
	// names a loopback host (so not a DNS-rebound page) act as an admin
	// (baton dev).
	AnonymousLoopback
	// AnonymousEveryone: every request acts as an admin (baton serve
	// --insecure-no-auth). /healthz says so.
	AnonymousEveryone
)

// Header and cookie names.
const (
	// SessionCookie holds a dashboard session's token.
	SessionCookie = "baton_session"
	// CSRFHeader must repeat the session's CSRF token on every
	// state-changing request authenticated by the session cookie.
	CSRFHeader = "X-Baton-CSRF"
	// actorHeader is the caller's annotation of who acts.
	actorHeader = "X-Baton-Actor"
)

// caller is who sends a request, as the access middleware found out.
type caller struct {
	// principal is nil for an anonymous caller.
	principal *auth.Principal
	// role is what the caller may do; empty: nothing but public operations.
	role auth.Role
	// anonymousRefusal explains why an anonymous caller may do nothing.
	anonymousRefusal string
	// tls is whether the request came over TLS (for the cookie's Secure).
	tls bool
}

type callerKey struct{}

func callerFrom(ctx context.Context) *caller {
	c, _ := ctx.Value(callerKey{}).(*caller)
	return c
}

// keyOf returns the API key of the request's caller, nil when anonymous or
// when access control is off.
func keyOf(ctx context.Context) *auth.Key {
	if c := callerFrom(ctx); c != nil && c.principal != nil {
		return c.principal.Key
	}
	return nil
}

// authenticate finds the caller of each request (an API key in
// Authorization: Bearer, else a session cookie, else anonymous under the
// Anonymous policy), refuses a bad key (401), a session's state-changing
// request without its CSRF token (403) and a caller over its rate limit
// (429), records the key's name as the actor, and leaves each operation's
// role check to authorize. With access nil every caller is an admin.
func authenticate(access *Access, next http.Handler) http.Handler {
	if access == nil {
		return next
	}
	if access.AnonymousPolicy.Limit == 0 {
		access.AnonymousPolicy = ratelimit.Policy{Limit: auth.DefaultRateLimit, Burst: auth.DefaultBurst}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &caller{tls: r.TLS != nil}
		ctx := r.Context()
		if header := r.Header.Get("Authorization"); header != "" {
			token, ok := auth.BearerToken(header)
			if !ok {
				unauthorized(w, "the Authorization header must be \"Bearer <API key>\"")
				return
			}
			p, err := access.Keys.Authenticate(ctx, token)
			if err != nil {
				authFailure(w, err)
				return
			}
			c.principal, c.role = p, p.Key.Role
		} else if cookie, err := r.Cookie(SessionCookie); err == nil && cookie.Value != "" {
			p, err := access.Keys.AuthenticateSession(ctx, cookie.Value)
			switch {
			case errors.Is(err, auth.ErrUnauthenticated):
				// A stale cookie: the caller is anonymous (and may sign in again).
			case err != nil:
				authFailure(w, err)
				return
			default:
				if !safeMethod(r.Method) && r.Header.Get(CSRFHeader) != p.CSRFToken && !riverUISameOrigin(r) {
					writeProblem(w, http.StatusForbidden, "a request authenticated by the session cookie must carry the session's CSRF token in the "+CSRFHeader+" header")
					return
				}
				c.principal, c.role = p, p.Key.Role
			}
		}
		if c.principal == nil {
			switch access.Anonymous {
			case AnonymousEveryone:
				c.role = auth.RoleAdmin
			case AnonymousLoopback:
				if loopbackRequest(r) {
					c.role = auth.RoleAdmin
				} else {
					c.anonymousRefusal = "anonymous requests are accepted only from a loopback address with a loopback Host header; send Authorization: Bearer <API key>"
				}
			default:
				c.anonymousRefusal = "this operation needs an API key: send Authorization: Bearer <API key>"
			}
		}
		if need := outsideAPIRole(r.Method, r.URL.Path); need != "" && !c.role.Allows(need) {
			refuse(w, c, need)
			return
		}
		if access.Limiter != nil && limited(r.URL.Path) {
			subject, actor, policy := "ip:"+clientIP(r), "", access.AnonymousPolicy
			if c.principal != nil {
				k := c.principal.Key
				subject, actor = "key:"+strconv.FormatInt(k.ID, 10), k.Name
				policy = ratelimit.Policy{Limit: k.RateLimit, Burst: k.Burst}
			}
			d, err := access.Limiter.Allow(ctx, subject, actor, policy)
			if err != nil {
				writeProblem(w, http.StatusServiceUnavailable, "rate limiter unavailable")
				return
			}
			setRateLimitHeaders(w.Header(), d)
			if !d.Allowed {
				w.Header().Set("Retry-After", strconv.Itoa(int((d.RetryAfter+time.Second-1)/time.Second)))
				writeTypedProblem(w, http.StatusTooManyRequests, problemRateLimited,
					fmt.Sprintf("rate limit of %d requests a minute (burst %d) exceeded; retry after %s", policy.Limit, policy.Burst, w.Header().Get("Retry-After")+"s"))
				return
			}
		}
		if c.principal != nil {
			r.Header.Set(actorHeader, actorOf(c.principal.Key.Name, r.Header.Get(actorHeader)))
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, callerKey{}, c)))
	})
}

// RiverUIPrefix is where serve and dev mount River's job UI (UI in
// Options serves it).
const RiverUIPrefix = "/riverui"

// outsideAPIRole is the role a request outside the API's operations needs
// ("" for none): the viewer for the metrics and for River's job UI (its
// pages and its API list every job with its args and errors), the operator
// for the UI's actions (cancel, delete or retry jobs; pause, resume or
// limit queues).
func outsideAPIRole(method, path string) auth.Role {
	switch {
	case IsRiverUI(path) && !safeMethod(method):
		return auth.RoleOperator
	case IsRiverUI(path) || path == "/metrics":
		return auth.RoleViewer
	}
	return ""
}

// IsRiverUI reports whether path is River's job UI: RiverUIPrefix or below it.
func IsRiverUI(path string) bool {
	return path == RiverUIPrefix || strings.HasPrefix(path, RiverUIPrefix+"/")
}

// riverUISameOrigin reports whether r is an action of River's job UI sent
// by a page of this origin. River UI's own pages cannot send the session's
// CSRF header, so for its paths the browser's word stands in for it: a
// Sec-Fetch-Site of "same-origin", or, from a browser that sends no fetch
// metadata, an Origin naming this host. A request carrying neither is
// refused (a browser that sends neither cannot prove where it came from).
func riverUISameOrigin(r *http.Request) bool {
	if !IsRiverUI(r.URL.Path) {
		return false
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	origin, err := url.Parse(r.Header.Get("Origin"))
	return err == nil && origin.Host != "" && origin.Host == r.Host && (origin.Scheme == "http" || origin.Scheme == "https")
}

// actorOf is the actor recorded in events for a key: its name, with the
// caller's X-Baton-Actor, if any, as an annotation after it (the whole
// within the header's 200 characters).
func actorOf(keyName, annotation string) string {
	annotation = strings.TrimSpace(annotation)
	if annotation == "" || annotation == keyName {
		return keyName
	}
	actor := []rune(keyName + " (for " + annotation)
	if len(actor) > 199 {
		actor = actor[:199] // within the header's 200 characters, whole runes
	}
	return string(actor) + ")"
}

// limited reports whether requests to path count against rate limits: the
// versioned API, not the probes, the documents, the dashboard or sign-in.
func limited(path string) bool {
	if !strings.HasPrefix(path, "/v1/") && !strings.HasPrefix(path, "/v2/") {
		return false
	}
	rest := path[len("/v1/"):]
	return rest != "sessions" && !strings.HasPrefix(rest, "openapi")
}

// setRateLimitHeaders writes both the IETF draft's RateLimit-Policy and
// RateLimit fields (draft-ietf-httpapi-ratelimit-headers-09) and the
// widespread RateLimit-Limit / -Remaining / -Reset.
func setRateLimitHeaders(h http.Header, d ratelimit.Decision) {
	reset := int((d.Reset + time.Second - 1) / time.Second)
	if !d.Allowed {
		reset = max(reset, int((d.RetryAfter+time.Second-1)/time.Second))
	}
	h.Set("RateLimit-Policy", fmt.Sprintf(`"key";q=%d;w=60`, d.Policy.Capacity()))
	h.Set("RateLimit", fmt.Sprintf(`"key";r=%d;t=%d`, d.Remaining, reset))
	h.Set("RateLimit-Limit", strconv.Itoa(d.Policy.Capacity()))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(reset))
}

func safeMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

func authFailure(w http.ResponseWriter, err error) {
	if errors.Is(err, auth.ErrUnauthenticated) {
		unauthorized(w, "the API key is invalid, revoked or expired")
		return
	}
	writeProblem(w, http.StatusServiceUnavailable, "cannot check credentials now")
}

func unauthorized(w http.ResponseWriter, detail string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="baton"`)
	writeProblem(w, http.StatusUnauthorized, detail)
}

// refuse answers a caller that lacks the role need: 401 when anonymous,
// 403 otherwise.
func refuse(w http.ResponseWriter, c *caller, need auth.Role) {
	if c.role == "" {
		unauthorized(w, c.anonymousRefusal)
		return
	}
	writeProblem(w, http.StatusForbidden, fmt.Sprintf("this operation needs the %s role; the caller has %s", need, c.role))
}

// loopbackRequest reports whether r comes from a loopback address and names
// a loopback host (localhost, 127.0.0.0/8 or ::1) in its Host header.
func loopbackRequest(r *http.Request) bool {
	remote, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		remote = r.RemoteAddr
	}
	if ip := net.ParseIP(remote); ip == nil || !ip.IsLoopback() {
		return false
	}
	return loopbackHost(r.Host)
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// clientIP is the address the request came from (proxies' headers are not
// trusted).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authorize is the Huma middleware that checks each operation's role.
func authorize(api huma.API, on bool) func(ctx huma.Context, next func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		need := requiredRole(ctx.Operation())
		c := callerFrom(ctx.Context())
		if !on || need == "" || (c != nil && c.role.Allows(need)) {
			next(ctx)
			return
		}
		if c == nil || c.role == "" {
			detail := "this operation needs an API key: send Authorization: Bearer <API key>"
			if c != nil && c.anonymousRefusal != "" {
				detail = c.anonymousRefusal
			}
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="baton"`)
			_ = huma.WriteErr(api, ctx, http.StatusUnauthorized, detail)
			return
		}
		_ = huma.WriteErr(api, ctx, http.StatusForbidden, fmt.Sprintf("this operation needs the %s role; the caller has %s", need, c.role))
	}
}

// requireRole checks, inside a handler, a role an operation needs only for
// some inputs (such as new params for a task of a dangerous executor).
func requireRole(ctx context.Context, need auth.Role, why string) error {
	c := callerFrom(ctx)
	if c == nil || c.role.Allows(need) {
		return nil
	}
	if c.role == "" {
		return huma.Error401Unauthorized(c.anonymousRefusal)
	}
	return huma.Error403Forbidden(fmt.Sprintf("%s needs the %s role; the caller has %s", why, need, c.role))
}

// publicOperations need no credential.
var publicOperations = map[string]bool{
	"get-health": true, "get-readiness": true,
	"create-session": true, "delete-session": true,
	// Webhook senders cannot send API keys: a trigger's secret authenticates
	// them (see the inbound-webhook operation and docs/access.md).
	"inbound-webhook": true,
}

// operatorOperations change state and need the operator role. Any other
// operation that is not a read needs admin: a new operation is admin-only
// until it is listed here.
var operatorOperations = map[string]bool{
	"start-run": true, "cancel-run": true, "pause-run": true, "resume-run": true,
	"set-run-priority": true, "set-task-priority": true,
	"cancel-task": true, "retry-task": true, "skip-task": true,
	"resubmit-dead-letter": true, "bulk-resubmit-dead-letters": true, "discard-dead-letter": true,
	"acknowledge-alert": true, "silence-alert": true,
	"open-breaker": true, "close-breaker": true,
	"pause-queue": true, "resume-queue": true,
	"emit-event": true, "replay-events": true,
	"start-batch": true, "retry-batch": true, "cancel-batch": true,
	"create-saved-search": true, "delete-saved-search": true,
}

// adminReads are reads that need admin.
var adminReads = map[string]bool{"list-keys": true}

// viewerPosts are POST operations that only read (such as a search whose
// query is a body) and need no more than viewer.
var viewerPosts = map[string]bool{"search-runs-post": true}

// requiredRole is the role an operation needs; empty for a public one.
func requiredRole(op *huma.Operation) auth.Role {
	id := strings.TrimPrefix(op.OperationID, "v2-")
	switch {
	case publicOperations[id]:
		return ""
	case adminReads[id]:
		return auth.RoleAdmin
	case op.Method == http.MethodGet || op.Method == http.MethodHead || viewerPosts[id]:
		return auth.RoleViewer
	case operatorOperations[id]:
		return auth.RoleOperator
	default:
		return auth.RoleAdmin
	}
}

// Problem types of the access refusals.
const (
	problemRateLimited   = "urn:baton:problem:rate-limited"
	problemQuotaExceeded = "urn:baton:problem:quota-exceeded"
)

// writeTypedProblem writes a problem with a type URI.
func writeTypedProblem(w http.ResponseWriter, status int, typ, detail string) {
	writeProblemModel(w, &huma.ErrorModel{Type: typ, Title: http.StatusText(status), Status: status, Detail: detail})
}
