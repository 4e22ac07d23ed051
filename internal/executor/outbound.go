package executor

import (
	"net"
	"net/http"
	"net/url"
	"time"
)

// NewOutboundClient returns an HTTP client for calls Baton makes to
// user-given URLs (alert channels, outbound webhooks): redirects are not
// followed (the first answer is the answer) and, unless allowPrivate,
// non-public addresses are refused at dial time, after name resolution, and
// proxies are ignored (a proxy would dial the target on its behalf).
func NewOutboundClient(allowPrivate bool, timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: 20,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: timeout,
	}
	if !allowPrivate {
		dialer.Control = RefusePrivateAddresses
		transport.Proxy = nil
	}
	transport.DialContext = dialer.DialContext
	return &http.Client{
		Transport:     transport,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// CheckOutboundURL returns why raw cannot be the target of an outbound call
// (not an absolute http or https URL, credentials, a fragment, too long),
// or "" with the parsed URL. Address checks are the caller's.
func CheckOutboundURL(raw string) (*url.URL, string) {
	if len(raw) > 2000 {
		return nil, "at most 2000 characters"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return nil, "must be an absolute http or https URL"
	}
	if u.User != nil {
		return nil, "must not hold credentials"
	}
	if u.Fragment != "" {
		return nil, "must not have a fragment"
	}
	return u, ""
}
