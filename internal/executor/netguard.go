package executor

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrPrivateAddress is returned (wrapped, as a permanent error) when the http
// executor refuses to connect to a private, loopback or link-local address.
var ErrPrivateAddress = errors.New("private address refused")

// RefusePrivateAddresses is a net.Dialer Control hook that refuses
// connections to private, loopback, link-local, multicast and other
// non-public addresses with a permanent error wrapping ErrPrivateAddress.
//
// It runs after name resolution, on the address actually dialled, so a host
// name resolving to an internal address (DNS rebinding included) is refused
// as well as a literal one.
func RefusePrivateAddresses(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return Permanent(fmt.Errorf("%w: cannot parse address %q", ErrPrivateAddress, address))
	}
	if !isPublicAddr(addr) {
		return Permanent(fmt.Errorf("%w: %s is not a public address (set AllowPrivateHTTP to allow it)", ErrPrivateAddress, addr.WithZone("")))
	}
	return nil
}

// isPublicAddr reports whether addr is a globally routable unicast address.
func isPublicAddr(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsGlobalUnicast() || addr.IsPrivate() {
		// IsGlobalUnicast is false for loopback, link-local, multicast and
		// unspecified addresses.
		return false
	}

	if addr.Is4() {
		for _, p := range []string{
			"0.0.0.0/8",       // "this network"
			"100.64.0.0/10",   // shared address space (carrier-grade NAT)
			"192.0.0.0/24",    // IETF protocol assignments
			"198.18.0.0/15",   // benchmarking
			"240.0.0.0/4",     // reserved, broadcast
			"192.0.2.0/24",    // documentation
			"198.51.100.0/24", // documentation
			"203.0.113.0/24",  // documentation
		} {
			if netip.MustParsePrefix(p).Contains(addr) {
				return false
			}
		}
		return true
	}

	b := addr.As16()
	switch {
	case netip.MustParsePrefix("64:ff9b::/96").Contains(addr),
		netip.MustParsePrefix("64:ff9b:1::/48").Contains(addr):
		// NAT64: the last four bytes are an IPv4 address.
		return isPublicAddr(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	case netip.MustParsePrefix("2002::/16").Contains(addr):
		// 6to4: bytes 2–5 are an IPv4 address.
		return isPublicAddr(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
	case netip.MustParsePrefix("::/96").Contains(addr), // IPv4-compatible (deprecated)
		netip.MustParsePrefix("fec0::/10").Contains(addr),     // site-local (deprecated)
		netip.MustParsePrefix("2001:db8::/32").Contains(addr), // documentation
		netip.MustParsePrefix("100::/64").Contains(addr):      // discard-only
		return false
	}
	return true
}

// newHTTPClient returns the http executor's default client. Unless
// allowPrivate is set, it refuses non-public addresses at dial time and
// ignores proxy settings (a proxy would dial the target on its behalf,
// bypassing the check).
func newHTTPClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	if !allowPrivate {
		dialer.Control = RefusePrivateAddresses
		transport.Proxy = nil
	}
	transport.DialContext = dialer.DialContext

	return &http.Client{
		Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return Permanent(fmt.Errorf("stopped after %d redirects", maxRedirects))
			}
			return nil
		},
	}
}
