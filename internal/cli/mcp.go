package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/baton-run/baton/internal/mcpserver"
)

// mcpServe runs `baton mcp`: the MCP server on stdin and stdout, for an AI
// assistant that starts it as a subprocess. Its tools call the Baton server
// at --url with --key, so the key's role decides what they may do.
func (env *environment) mcpServe(ctx context.Context, args []string) error {
	fs := env.flags("mcp")
	defaultURL := os.Getenv("BATON_URL")
	if defaultURL == "" {
		defaultURL = "http://127.0.0.1:8080"
	}
	url := fs.String("url", defaultURL, "the Baton server whose API the tools call ($BATON_URL when set)")
	key := fs.String("key", "", "the API key the tools act with (default $BATON_API_KEY; prefer the variable: a flag shows in the process list)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if *key == "" {
		*key = os.Getenv("BATON_API_KEY")
	}
	client, err := mcpserver.NewClient(mcpserver.ClientOptions{URL: *url, Key: *key})
	if err != nil {
		return &usageError{"--url: " + err.Error()}
	}
	if *key == "" {
		env.logger.Warn("no API key (--key or BATON_API_KEY): the tools call Baton anonymously, which only baton dev accepts, from loopback")
	}
	server := mcpserver.New(client, mcpserver.Options{Version: Version, Logger: env.logger})
	err = server.Run(ctx, &mcp.IOTransport{Reader: io.NopCloser(env.stdin), Writer: nopWriteCloser{env.stdout}})
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) {
		return nil
	}
	return fmt.Errorf("serve MCP on stdio: %w", err)
}

// nopWriteCloser leaves the process's stdout open when the transport closes.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
