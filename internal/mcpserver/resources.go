package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Resource URIs.
const (
	workflowsURI        = "baton://workflows"
	workflowURITemplate = "baton://workflows/{name}"
	runURITemplate      = "baton://runs/{id}"
	workflowURIPrefix   = "baton://workflows/"
	runURIPrefix        = "baton://runs/"
)

// addResources registers the workflow list, workflow definitions and runs
// as resources: their JSON as the API answers it.
func addResources(s *mcp.Server, c *Client) {
	s.AddResource(&mcp.Resource{
		URI: workflowsURI, Name: "workflows", Title: "Workflows", MIMEType: "application/json",
		Description: "Every workflow's latest version, without definitions.",
	}, func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return readJSON(ctx, c, req, "/v1/workflows")
	})
	s.AddResourceTemplate(&mcp.ResourceTemplate{
		URITemplate: workflowURITemplate, Name: "workflow", Title: "Workflow definition", MIMEType: "application/json",
		Description: "The latest version of a workflow with its full definition.",
	}, func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		raw, ok := strings.CutPrefix(req.Params.URI, workflowURIPrefix)
		name, err := url.PathUnescape(raw)
		if !ok || err != nil || checkName("name", name) != nil {
			return nil, mcp.ResourceNotFoundError(req.Params.URI)
		}
		return readJSON(ctx, c, req, "/v2/workflows/"+url.PathEscape(name))
	})
	s.AddResourceTemplate(&mcp.ResourceTemplate{
		URITemplate: runURITemplate, Name: "run", Title: "Run", MIMEType: "application/json",
		Description: "A run with its tasks.",
	}, func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		raw, ok := strings.CutPrefix(req.Params.URI, runURIPrefix)
		id, err := strconv.ParseInt(raw, 10, 64)
		if !ok || err != nil || id <= 0 {
			return nil, mcp.ResourceNotFoundError(req.Params.URI)
		}
		return readJSON(ctx, c, req, "/v2/runs/"+strconv.FormatInt(id, 10))
	})
}

// readJSON reads path from the API as the contents of the resource asked.
func readJSON(ctx context.Context, c *Client, req *mcp.ReadResourceRequest, path string) (*mcp.ReadResourceResult, error) {
	var body json.RawMessage
	if err := c.call(ctx, callHeader(req.Extra), http.MethodGet, path, nil, nil, &body); err != nil {
		if isNotFound(err) {
			return nil, mcp.ResourceNotFoundError(req.Params.URI)
		}
		return nil, fmt.Errorf("read %s: %w", req.Params.URI, err)
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{
		URI: req.Params.URI, MIMEType: "application/json", Text: string(body),
	}}}, nil
}
