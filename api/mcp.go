package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/baton-run/baton/internal/auth"
	"github.com/baton-run/baton/internal/mcpserver"
)

// MCPPath is where the API server serves the Model Context Protocol
// (streamable HTTP, stateless), the same tools as `baton mcp` on stdio.
const MCPPath = "/mcp"

// registerMCP mounts the MCP endpoint. Its tools call the API in process
// through self (the whole handler New returns), carrying the MCP request's
// Authorization header, so each tool call is authorized, rate-limited and
// recorded exactly as the API operation it makes.
func registerMCP(router chi.Router, h *handlers, self func() http.Handler) {
	server := mcpserver.New(mcpserver.InProcess(self), mcpserver.Options{Version: Version, Logger: h.logger})
	router.Handle(MCPPath, mcpGate(h.access, mcpserver.Handler(server, h.logger)))
}

// mcpGate admits to the MCP endpoint the callers the API would serve: a
// valid API key in Authorization: Bearer (already checked by authenticate),
// or an anonymous caller that the Anonymous policy gives a role (loopback
// in baton dev). A dashboard session is refused: the tools forward only
// the Authorization header, and an MCP client has no CSRF token.
func mcpGate(access *Access, next http.Handler) http.Handler {
	if access == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := callerFrom(r.Context())
		switch {
		case c == nil:
			unauthorized(w, "this endpoint needs an API key: send Authorization: Bearer <API key>")
			return
		case c.role == "":
			refuse(w, c, auth.RoleViewer)
			return
		case c.principal != nil && r.Header.Get("Authorization") == "":
			unauthorized(w, "the MCP endpoint takes an API key in Authorization: Bearer, not the dashboard's session")
			return
		}
		next.ServeHTTP(w, r)
	})
}
