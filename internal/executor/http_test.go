package executor

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// newServer starts an httptest server closed when the test ends.
func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPStatusClassification(t *testing.T) {
	t.Parallel()

	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		if err != nil {
			http.Error(w, "bad path", http.StatusBadRequest)
			return
		}
		if code >= 300 && code < 400 && code != http.StatusNotModified && code != http.StatusMultipleChoices {
			w.Header().Set("Location", "/status/200")
		}
		w.WriteHeader(code)
		if code != http.StatusNoContent && code != http.StatusNotModified {
			_, _ = io.WriteString(w, "boom "+strconv.Itoa(code))
		}
	})
	reg := setup(t, nil)

	tests := []struct {
		code  int
		class Class // "" for success
	}{
		{200, ""}, {201, ""}, {202, ""}, {204, ""},
		{301, ""}, {302, ""}, {307, ""}, {308, ""}, // followed to /status/200
		{300, ClassPermanent}, {304, ClassPermanent},
		{400, ClassPermanent}, {401, ClassPermanent}, {403, ClassPermanent}, {404, ClassPermanent},
		{405, ClassPermanent}, {409, ClassPermanent}, {410, ClassPermanent}, {422, ClassPermanent},
		{408, ClassTransient}, {429, ClassTransient},
		{500, ClassTransient}, {501, ClassTransient}, {502, ClassTransient}, {503, ClassTransient}, {504, ClassTransient},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.code), func(t *testing.T) {
			t.Parallel()

			res, err := run(context.Background(), t, reg, NameHTTP, map[string]any{
				"url": srv.URL + "/status/" + strconv.Itoa(tt.code),
			})
			require.Equal(t, tt.class, ClassOf(err), "error: %v", err)
			if tt.class == "" {
				out := decode(t, res)
				if tt.code >= 300 {
					require.EqualValues(t, 200, out["status"])
				} else {
					require.EqualValues(t, tt.code, out["status"])
				}
				return
			}
			require.Contains(t, err.Error(), "status "+strconv.Itoa(tt.code))
			if tt.code != http.StatusNotModified {
				require.Contains(t, err.Error(), "boom "+strconv.Itoa(tt.code))
			}
			require.Zero(t, RetryAfterOf(err))
		})
	}
}

func TestHTTPRequestAndOutput(t *testing.T) {
	t.Parallel()

	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.Header().Set("Set-Cookie", "session=secret")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"method":       r.Method,
			"content_type": r.Header.Get("Content-Type"),
			"token":        r.Header.Get("X-Token"),
			"body":         string(body),
		})
	})
	reg := setup(t, nil)

	t.Run("JSONBody", func(t *testing.T) {
		t.Parallel()

		res, err := run(context.Background(), t, reg, NameHTTP, map[string]any{
			"method":  "post",
			"url":     srv.URL + "/echo",
			"headers": map[string]string{"X-Token": "abc"},
			"body":    map[string]any{"a": 1, "b": []int{2, 3}},
			"timeout": "5s",
		})
		require.NoError(t, err)
		out := decode(t, res)
		require.EqualValues(t, 200, out["status"])
		require.Equal(t, map[string]any{
			"method":       "POST",
			"content_type": "application/json",
			"token":        "abc",
			"body":         `{"a":1,"b":[2,3]}`,
		}, out["body"])
		headers := out["headers"].(map[string]any)
		require.Equal(t, "a, b", headers["X-Multi"])
		require.NotContains(t, headers, "Set-Cookie")
		require.NotContains(t, out, "truncated")
	})

	t.Run("StringBodyWithContentType", func(t *testing.T) {
		t.Parallel()

		res, err := run(context.Background(), t, reg, NameHTTP, map[string]any{
			"method":  "PUT",
			"url":     srv.URL,
			"headers": map[string]string{"Content-Type": "text/csv"},
			"body":    "a,b\n1,2\n",
		})
		require.NoError(t, err)
		body := decode(t, res)["body"].(map[string]any)
		require.Equal(t, "PUT", body["method"])
		require.Equal(t, "text/csv", body["content_type"])
		require.Equal(t, "a,b\n1,2\n", body["body"])
	})
}

func TestHTTPTextResponse(t *testing.T) {
	t.Parallel()

	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, `{"looks":"like json"}`)
	})
	reg := setup(t, nil)

	res, err := run(context.Background(), t, reg, NameHTTP, map[string]any{"url": srv.URL})
	require.NoError(t, err)
	require.Equal(t, `{"looks":"like json"}`, decode(t, res)["body"])
}

func TestHTTPBodyCap(t *testing.T) {
	t.Parallel()

	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"data":"`+strings.Repeat("x", 100)+`"}`)
	})
	reg := setup(t, &Options{MaxOutputBytes: 16, AllowPrivateHTTP: true})

	res, err := run(context.Background(), t, reg, NameHTTP, map[string]any{"url": srv.URL})
	require.NoError(t, err)
	out := decode(t, res)
	require.Equal(t, true, out["truncated"])
	require.Equal(t, `{"data":"xxxxxxx`, out["body"]) // a string: truncated JSON is not parsed
}

func TestHTTPRetryAfter(t *testing.T) {
	t.Parallel()

	date := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		if v := r.URL.Query().Get("after"); v != "" {
			w.Header().Set("Retry-After", v)
		}
		w.WriteHeader(code)
	})
	reg := setup(t, nil)

	tests := []struct {
		name     string
		code     int
		after    string
		min, max time.Duration
	}{
		{"429 seconds", 429, "7", 7 * time.Second, 7 * time.Second},
		{"503 seconds", 503, "120", 2 * time.Minute, 2 * time.Minute},
		{"503 date", 503, date, 58 * time.Minute, time.Hour},
		{"429 garbage", 429, "soon", 0, 0},
		{"429 none", 429, "", 0, 0},
		{"500 ignores header", 500, "7", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			u := srv.URL + "?code=" + strconv.Itoa(tt.code) + "&after=" + url.QueryEscape(tt.after)
			_, err := run(context.Background(), t, reg, NameHTTP, map[string]any{"url": u})
			require.Equal(t, ClassTransient, ClassOf(err))
			after := RetryAfterOf(err)
			require.GreaterOrEqual(t, after, tt.min)
			require.LessOrEqual(t, after, tt.max)
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		d     time.Duration
		ok    bool
	}{
		{"0", 0, true},
		{"  30 ", 30 * time.Second, true},
		{"-5", 0, false},
		{"", 0, false},
		{"1.5", 0, false},
		{"Fri, 27 Nov 2026 12:01:30 GMT", 90 * time.Second, true},
		{"Friday, 27-Nov-26 12:00:10 GMT", 10 * time.Second, true}, // RFC 850
		{"Fri Nov 27 12:00:05 2026", 5 * time.Second, true},        // ANSI C
		{"Fri, 27 Nov 2026 11:00:00 GMT", 0, true},                 // in the past
		{"tomorrow", 0, false},
	}
	for _, tt := range tests {
		d, ok := ParseRetryAfter(tt.value, now)
		require.Equal(t, tt.ok, ok, "value %q", tt.value)
		require.Equal(t, tt.d, d, "value %q", tt.value)
	}
}

func TestHTTPTimeout(t *testing.T) {
	t.Parallel()

	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	reg := setup(t, nil)

	start := time.Now()
	_, err := run(context.Background(), t, reg, NameHTTP, map[string]any{"url": srv.URL, "timeout": "100ms"})
	require.Error(t, err)
	require.Less(t, time.Since(start), 5*time.Second)
	require.Equal(t, ClassTransient, ClassOf(err))
	require.Contains(t, err.Error(), "timed out after 100ms")
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestHTTPContextCancel(t *testing.T) {
	t.Parallel()

	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	reg := setup(t, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := run(ctx, t, reg, NameHTTP, map[string]any{"url": srv.URL})
	require.Equal(t, ClassTransient, ClassOf(err))
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestHTTPConnectionRefused(t *testing.T) {
	t.Parallel()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	reg := setup(t, nil)

	_, err = run(context.Background(), t, reg, NameHTTP, map[string]any{"url": "http://" + addr + "/x?token=secret"})
	require.Equal(t, ClassTransient, ClassOf(err))
	require.Contains(t, err.Error(), "connection refused")
	require.NotContains(t, err.Error(), "secret", "the query string must not leak into errors")
}

func TestHTTPRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()

	var hits atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
	})
	reg := setup(t, &Options{AllowPrivateHTTP: false})

	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	for _, u := range []string{
		srv.URL,                           // 127.0.0.1 literal
		"http://localhost:" + port + "/x", // a name resolving to loopback
	} {
		_, err := run(context.Background(), t, reg, NameHTTP, map[string]any{"url": u})
		require.Equal(t, ClassPermanent, ClassOf(err), "url %s: %v", u, err)
		require.ErrorIs(t, err, ErrPrivateAddress)
		require.Contains(t, err.Error(), "is not a public address")
	}
	require.Zero(t, hits.Load())
}

func TestIsPublicAddr(t *testing.T) {
	t.Parallel()

	tests := map[string]bool{
		"8.8.8.8":              true,
		"1.1.1.1":              true,
		"2606:4700:4700::1111": true,
		"127.0.0.1":            false,
		"127.8.9.10":           false,
		"10.1.2.3":             false,
		"172.16.0.1":           false,
		"192.168.1.1":          false,
		"169.254.169.254":      false, // cloud metadata
		"100.64.0.1":           false,
		"0.0.0.0":              false,
		"255.255.255.255":      false,
		"224.0.0.1":            false,
		"::1":                  false,
		"::":                   false,
		"fe80::1":              false,
		"fd00::1":              false,
		"::ffff:127.0.0.1":     false,
		"::ffff:8.8.8.8":       true,
		"64:ff9b::a00:1":       false, // NAT64 of 10.0.0.1
		"64:ff9b::808:808":     true,  // NAT64 of 8.8.8.8
		"2002:a00:1::":         false, // 6to4 of 10.0.0.1
		"ff02::1":              false,
	}
	for s, want := range tests {
		require.Equal(t, want, isPublicAddr(netip.MustParseAddr(s)), s)
	}

	require.NoError(t, RefusePrivateAddresses("tcp4", "8.8.8.8:443", nil))
	err := RefusePrivateAddresses("tcp6", "[fe80::1%eth0]:80", nil)
	require.True(t, errors.Is(err, ErrPrivateAddress))
	require.Equal(t, ClassPermanent, ClassOf(err))
}

func TestHTTPTooManyRedirects(t *testing.T) {
	t.Parallel()

	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	reg := setup(t, nil)

	_, err := run(context.Background(), t, reg, NameHTTP, map[string]any{"url": srv.URL})
	require.Equal(t, ClassPermanent, ClassOf(err))
	require.Contains(t, err.Error(), "redirects")
}

func TestHTTPDNSErrorDoesNotNameTheResolver(t *testing.T) {
	t.Parallel()
	reg := setup(t, nil)

	// .invalid never resolves (RFC 6761).
	_, err := run(context.Background(), t, reg, NameHTTP, map[string]any{"url": "http://something.invalid/x?token=secret"})
	require.Error(t, err)
	require.Equal(t, ClassTransient, ClassOf(err), "a DNS error keeps its class: %v", err)
	var dnsErr *net.DNSError
	require.ErrorAs(t, err, &dnsErr)
	require.Empty(t, dnsErr.Server)
	require.Contains(t, err.Error(), "lookup something.invalid: ")
	require.NotContains(t, err.Error(), " on ", "the resolver's address must not appear: %v", err)
	require.NotContains(t, err.Error(), "secret")
}

func TestWithoutResolver(t *testing.T) {
	t.Parallel()

	dnsErr := &net.DNSError{Err: "no such host", Name: "x.example", Server: "10.0.0.2:53", IsNotFound: true}
	err := classifyTransportError(context.Background(), "GET http://x.example/", 0,
		&url.Error{Op: "Get", URL: "http://x.example/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: dnsErr}})
	require.Equal(t, "http GET http://x.example/: lookup x.example: no such host", err.Error())
	require.Equal(t, ClassTransient, ClassOf(err))
	var got *net.DNSError
	require.ErrorAs(t, err, &got)
	require.True(t, got.IsNotFound)
	require.Equal(t, "10.0.0.2:53", dnsErr.Server, "the original error is not changed")

	timeout := &net.DNSError{Err: "i/o timeout", Name: "x.example", Server: "10.0.0.2:53", IsTimeout: true, UnwrapErr: context.DeadlineExceeded}
	err = classifyTransportError(context.Background(), "GET http://x.example/", 0, timeout)
	require.Equal(t, "http GET http://x.example/: lookup x.example: i/o timeout", err.Error())
	require.ErrorIs(t, err, context.DeadlineExceeded)

	other := errors.New("connection reset")
	require.Same(t, other, withoutResolver(other))
}
