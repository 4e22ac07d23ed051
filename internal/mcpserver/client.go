package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxResponseBytes bounds what a tool reads of one API response.
const maxResponseBytes = 8 << 20

// actor is the annotation the tools send in X-Baton-Actor: events record
// "<key name> (for mcp)".
const actor = "mcp"

// Client sends the tools' requests to Baton's HTTP API. Every tool is an API
// call, so the API's role checks, validation, rate limits, quotas and
// event actors apply to it unchanged.
type Client struct {
	base *url.URL
	do   func(*http.Request) (*http.Response, error)
	// key is sent with every call; empty: the Authorization header of the
	// MCP request that carried the call is forwarded.
	key string
}

// ClientOptions configures a Client of a Baton server over the network.
type ClientOptions struct {
	// URL is the Baton server, such as http://127.0.0.1:8080 (required).
	URL string
	// Key is the API key sent as Authorization: Bearer with every call;
	// empty sends none (an anonymous caller, as baton dev accepts from
	// loopback).
	Key string
	// HTTPClient sends the requests; nil: one with a 60 s timeout.
	HTTPClient *http.Client
}

// NewClient returns a Client of the Baton server at opts.URL.
func NewClient(opts ClientOptions) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(opts.URL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("the Baton URL %q must be an absolute http or https URL", opts.URL)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	return &Client{base: u, do: hc.Do, key: opts.Key}, nil
}

// InProcess returns a Client that serves each call with the handler that
// handler returns, in this process, without a network round trip: the /mcp
// endpoint of the API server uses it with the API's own handler. A call
// carries only the Authorization header of the MCP request that carried it
// (never a cookie) and arrives as a loopback request, so an anonymous call
// gets what the API gives an anonymous loopback caller; the endpoint admits
// anonymous MCP requests only where the API admits the original caller.
func InProcess(handler func() http.Handler) *Client {
	base := &url.URL{Scheme: "http", Host: "localhost"}
	return &Client{base: base, do: func(r *http.Request) (*http.Response, error) {
		// The tool's context descends from the MCP request's, whose values
		// (the router's state, the caller) must not reach the inner request:
		// keep only its cancellation.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stop := context.AfterFunc(r.Context(), cancel)
		defer stop()
		r = r.WithContext(ctx)
		r.RemoteAddr = "127.0.0.1:0"
		r.RequestURI = r.URL.RequestURI()
		rec := &recorder{header: http.Header{}}
		handler().ServeHTTP(rec, r)
		return rec.response(r), nil
	}}
}

// APIError is a problem the API answered (RFC 9457).
type APIError struct {
	Status int
	Title  string
	Detail string
	// Errors are the validation problems, each "location: message".
	Errors []string
	// RetryAfter is the Retry-After header of a 429 or 503, if any.
	RetryAfter string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Baton answered %d %s", e.Status, http.StatusText(e.Status))
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	} else if e.Title != "" && e.Title != http.StatusText(e.Status) {
		b.WriteString(": " + e.Title)
	}
	if len(e.Errors) > 0 {
		b.WriteString(" (" + strings.Join(e.Errors, "; ") + ")")
	}
	if e.RetryAfter != "" {
		b.WriteString("; retry after " + e.RetryAfter + " s")
	}
	return b.String()
}

// call sends one API request for the tool call whose header is callHeader
// (nil outside HTTP) and decodes a 2xx JSON answer into out (nil: ignore).
func (c *Client) call(ctx context.Context, callHeader http.Header, method, path string, query url.Values, body, out any) error {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = query.Encode()
	var reader io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode the request: %w", err)
		}
		reader = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), reader)
	if err != nil {
		return fmt.Errorf("build the request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Baton-Actor", actor)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case c.key != "":
		req.Header.Set("Authorization", "Bearer "+c.key)
	case callHeader != nil && callHeader.Get("Authorization") != "":
		req.Header.Set("Authorization", callHeader.Get("Authorization"))
	}
	resp, err := c.do(req)
	if err != nil {
		return fmt.Errorf("call Baton: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("read Baton's answer: %w", err)
	}
	if len(data) > maxResponseBytes {
		return fmt.Errorf("the answer from Baton exceeds %d bytes", maxResponseBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return problem(resp, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode Baton's answer to %s %s: %w", method, path, err)
	}
	return nil
}

// problem turns an error answer into an *APIError.
func problem(resp *http.Response, data []byte) error {
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Errors []struct {
			Message  string `json:"message"`
			Location string `json:"location"`
		} `json:"errors"`
	}
	e := &APIError{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
	if json.Unmarshal(data, &p) == nil {
		e.Title, e.Detail = p.Title, p.Detail
		for _, pe := range p.Errors {
			if pe.Location != "" {
				e.Errors = append(e.Errors, pe.Location+": "+pe.Message)
			} else {
				e.Errors = append(e.Errors, pe.Message)
			}
		}
	}
	return e
}

// isNotFound reports whether err is the API's 404.
func isNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// recorder is the http.ResponseWriter of an in-process call.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// Flush is a no-op: the whole answer is read when the handler returns.
func (r *recorder) Flush() {}

func (r *recorder) response(req *http.Request) *http.Response {
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: r.header, Body: io.NopCloser(&r.body), ContentLength: int64(r.body.Len()), Request: req,
	}
}
