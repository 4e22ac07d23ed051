package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// httpMethods lists the methods the http executor accepts, for messages.
const httpMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"

// maxRedirects is how many redirects the built-in client follows, as Go's
// default client does.
const maxRedirects = 10

// excerptBytes is how much of an error response's body goes into the error
// message.
const excerptBytes = 256

func validHTTPMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// httpParams are the params of the http executor.
type httpParams struct {
	Method  string
	URL     string
	Headers map[string]string
	Body    json.RawMessage // nil when absent or null
	Timeout time.Duration   // zero for none
}

func parseHTTPParams(params json.RawMessage, templates bool) (httpParams, error) {
	r := newParamReader(params, templates, "method", "url", "headers", "body", "timeout")
	p := httpParams{Method: http.MethodGet}

	if m, ok := r.str("method", false); ok && !r.template(m) {
		p.Method = strings.ToUpper(m)
		if !validHTTPMethod(p.Method) {
			r.fail("params.method", "must be one of "+httpMethods)
		}
	}

	if u, ok := r.str("url", true); ok {
		p.URL = u
		if u == "" {
			r.fail("params.url", "required")
		} else if !r.template(u) {
			if msg := checkHTTPURL(u); msg != "" {
				r.fail("params.url", msg)
			}
		}
	}

	p.Headers = r.stringMap("headers", func(k string) string {
		if !validHeaderName(k) {
			return "invalid header name"
		}
		return ""
	})
	p.Body = r.raw("body")
	p.Timeout, _ = r.duration("timeout", false)

	return p, r.err()
}

// checkHTTPURL returns what is wrong with an http(s) URL, or "".
func checkHTTPURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Sprintf("invalid URL %q", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Sprintf("scheme must be http or https, got %q", u.Scheme)
	}
	if u.Host == "" {
		return "missing host"
	}
	return ""
}

// validHeaderName reports whether s is a valid HTTP field name (an RFC 9110
// token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// httpOutput is the output of a successful http task.
type httpOutput struct {
	Status    int               `json:"status"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	Truncated bool              `json:"truncated,omitempty"`
}

// httpExecutor calls an HTTP endpoint.
type httpExecutor struct {
	client    *http.Client
	maxOutput int
	logger    *slog.Logger
}

// Validate implements Executor.
func (e *httpExecutor) Validate(params json.RawMessage) error {
	_, err := parseHTTPParams(params, true)
	return err
}

// Execute implements Executor.
func (e *httpExecutor) Execute(ctx context.Context, req Request) (Result, error) {
	p, err := parseHTTPParams(req.Params, false)
	if err != nil {
		return Result{}, Permanent(fmt.Errorf("http: %w", err))
	}

	if p.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.Timeout)
		defer cancel()
	}

	hreq, err := newHTTPRequest(ctx, p)
	if err != nil {
		return Result{}, Permanent(fmt.Errorf("http %s: %w", p.Method, err))
	}
	target := p.Method + " " + redactURL(hreq.URL)

	start := time.Now()
	resp, err := e.client.Do(hreq)
	if err != nil {
		return Result{}, classifyTransportError(ctx, target, p.Timeout, err)
	}
	defer resp.Body.Close()

	body, truncated, readErr := readCapped(resp.Body, e.maxOutput)
	e.logger.DebugContext(ctx, "http task done",
		slog.Int64("run_id", req.RunID), slog.Int64("task_id", req.TaskID),
		slog.String("request", target), slog.Int("status", resp.StatusCode),
		slog.Duration("duration", time.Since(start)))

	if err := classifyStatus(resp, body, target, time.Now()); err != nil {
		return Result{}, err
	}
	if readErr != nil {
		return Result{}, classifyTransportError(ctx, target, p.Timeout, fmt.Errorf("read body: %w", readErr))
	}

	out := httpOutput{
		Status:    resp.StatusCode,
		Headers:   flattenHeaders(resp.Header),
		Body:      responseBodyJSON(resp.Header.Get("Content-Type"), body, truncated),
		Truncated: truncated,
	}
	return marshalOutput(out)
}

// newHTTPRequest builds the request of a task: a string body is sent as is,
// any other JSON value as JSON with a default Content-Type of
// application/json.
func newHTTPRequest(ctx context.Context, p httpParams) (*http.Request, error) {
	var (
		body        io.Reader
		contentType string
	)
	if p.Body != nil {
		var s string
		if err := json.Unmarshal(p.Body, &s); err == nil {
			body = strings.NewReader(s)
		} else {
			var buf bytes.Buffer
			if err := json.Compact(&buf, p.Body); err != nil {
				return nil, fmt.Errorf("params.body: %w", err)
			}
			body = &buf
			contentType = "application/json"
		}
	}

	hreq, err := http.NewRequestWithContext(ctx, p.Method, p.URL, body)
	if err != nil {
		return nil, fmt.Errorf("params.url: %w", err)
	}
	if msg := checkHTTPURL(p.URL); msg != "" {
		return nil, fmt.Errorf("params.url: %s", msg)
	}
	for k, v := range p.Headers {
		if strings.EqualFold(k, "Host") {
			hreq.Host = v
			continue
		}
		hreq.Header.Set(k, v)
	}
	if contentType != "" && hreq.Header.Get("Content-Type") == "" {
		hreq.Header.Set("Content-Type", contentType)
	}
	if hreq.Header.Get("User-Agent") == "" {
		hreq.Header.Set("User-Agent", "baton")
	}
	return hreq, nil
}

// classifyTransportError classifies an error from Client.Do or from reading
// a body: classified errors (a refused private address, too many redirects)
// keep their class, everything else (timeouts, connection and DNS errors)
// is transient.
func classifyTransportError(ctx context.Context, target string, timeout time.Duration, err error) error {
	// url.Error repeats the whole URL, query string included; the target
	// names the request without it.
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	err = withoutResolver(err)

	var classified *Error
	switch {
	case errors.As(err, &classified):
		return fmt.Errorf("http %s: %w", target, err)
	case errors.Is(ctx.Err(), context.DeadlineExceeded) && timeout > 0:
		return Transient(fmt.Errorf("http %s: timed out after %s: %w", target, timeout, err))
	default:
		return Transient(fmt.Errorf("http %s: %w", target, err))
	}
}

// classifyStatus returns nil for a 2xx response and a classified error for
// anything else: 408, 429 and 5xx are transient (429 and 503 with their
// Retry-After hint), the rest permanent.
func classifyStatus(resp *http.Response, body []byte, target string, now time.Time) error {
	code := resp.StatusCode
	if code >= 200 && code <= 299 {
		return nil
	}

	err := fmt.Errorf("http %s: status %s", target, resp.Status)
	if excerpt := bodyExcerpt(body); excerpt != "" {
		err = fmt.Errorf("http %s: status %s: %s", target, resp.Status, excerpt)
	}

	switch {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		if d, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
			return WithRetryAfter(err, d)
		}
		return Transient(err)
	case code == http.StatusRequestTimeout || (code >= 500 && code <= 599):
		return Transient(err)
	default:
		return Permanent(err)
	}
}

// ParseRetryAfter parses a Retry-After header value: a number of seconds or
// an HTTP date (relative to now). ok is false when the value is empty or
// invalid. A date in the past gives 0 with ok true.
func ParseRetryAfter(value string, now time.Time) (d time.Duration, ok bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(value, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		const maxSecs = int64((1<<63 - 1) / int64(time.Second))
		if secs > maxSecs {
			secs = maxSecs
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	if d := t.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}

// readCapped reads at most max bytes of r, reporting whether there was more.
func readCapped(r io.Reader, max int) (data []byte, truncated bool, err error) {
	data, err = io.ReadAll(io.LimitReader(r, int64(max)+1))
	if len(data) > max {
		return data[:max], true, err
	}
	return data, false, err
}

// bodyExcerpt returns the start of a response body on one line, for error
// messages.
func bodyExcerpt(body []byte) string {
	cut := len(body) > excerptBytes
	if cut {
		body = body[:excerptBytes]
		// Do not split a UTF-8 sequence.
		for len(body) > 0 && !utf8.Valid(body) {
			body = body[:len(body)-1]
		}
	}
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(body), "\uFFFD")), " ")
	if cut && s != "" {
		s += "…"
	}
	return s
}

// flattenHeaders returns one string per response header, joining repeated
// values with ", ". Set-Cookie is left out: cookies are credentials and the
// output is stored and shown in the dashboard.
func flattenHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		if k == "Set-Cookie" {
			continue
		}
		out[k] = strings.Join(vs, ", ")
	}
	return out
}

// responseBodyJSON returns a response body as a JSON value: the parsed body
// when it is a complete JSON document, a string otherwise.
func responseBodyJSON(contentType string, body []byte, truncated bool) json.RawMessage {
	if !truncated && isJSONMediaType(contentType) && json.Valid(body) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, body); err == nil {
			return buf.Bytes()
		}
	}
	b, err := json.Marshal(strings.ToValidUTF8(string(body), "\uFFFD"))
	if err != nil {
		return json.RawMessage(nullOutput)
	}
	return b
}

// isJSONMediaType reports whether a Content-Type is JSON (application/json or
// any +json type).
func isJSONMediaType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// redactURL returns the URL without credentials, query or fragment, which may
// carry secrets, for error messages and logs.
func redactURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// withoutResolver replaces a DNS error in err by a copy that does not name
// the resolver ("lookup x: no such host", not "lookup x on 10.0.0.2:53: no
// such host"): the worker's resolver address says nothing about the task
// and is an internal detail of the worker's network. The copy keeps what
// the DNS error wraps (a timeout stays a timeout). Other errors, and
// classified ones, are returned unchanged.
func withoutResolver(err error) error {
	var (
		dnsErr     *net.DNSError
		classified *Error
	)
	if !errors.As(err, &dnsErr) || dnsErr.Server == "" || errors.As(err, &classified) {
		return err
	}
	clean := *dnsErr
	clean.Server = ""
	return &clean
}
