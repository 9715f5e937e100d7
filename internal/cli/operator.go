package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/client"
	"github.com/kanade-dev/kanade/internal/duration"
)

const (
	defaultServer = "http://127.0.0.1:8080"
	envServer     = "KANADE_SERVER"
	envToken      = "KANADE_TOKEN"
)

// globals are the persistent flags every operator verb shares.
type globals struct {
	server string
	token  string
	output string
}

// addOperatorCommands registers the verbs that talk to the HTTP API.
func addOperatorCommands(root *cobra.Command) {
	g := &globals{}
	pf := root.PersistentFlags()
	pf.StringVar(&g.server, "server", defaultServer, "kanade server URL (env "+envServer+")")
	pf.StringVar(&g.token, "token", "", "API token (env "+envToken+")")
	pf.StringVarP(&g.output, "output", "o", "table", "output format: table|json|yaml")
	_ = root.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return outputFormats, cobra.ShellCompDirectiveNoFileComp
	})

	root.AddCommand(
		newJobCmd(g),
		newExecCmd(g),
		newRunCmd(g),
		newExecutionsCmd(g),
		newResultsCmd(g),
		newAgentsCmd(g),
		newGroupsCmd(g),
		newAuditCmd(g),
		newScheduleCmd(g),
		newConfigCmd(g),
	)
}

// env is what one operator verb needs once its flags are resolved.
type env struct {
	client *client.Client
	format string
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
	stdin  io.Reader
}

// resolve applies flags > env > defaults and validates the output format,
// before any request is made.
func (g *globals) resolve(cmd *cobra.Command) (server, token, format string, err error) {
	server, token = g.server, g.token
	if !flagChanged(cmd, "server") {
		if v := os.Getenv(envServer); v != "" {
			server = v
		}
	}
	if !flagChanged(cmd, "token") {
		if v := os.Getenv(envToken); v != "" {
			token = v
		}
	}
	if err := checkServerURL(server); err != nil {
		return "", "", "", err
	}
	format, err = parseOutput(g.output)
	return server, token, format, err
}

func flagChanged(cmd *cobra.Command, name string) bool {
	f := cmd.Flags().Lookup(name)
	return f != nil && f.Changed
}

// checkServerURL catches "--server localhost:8080" early: without a scheme
// Go's HTTP client would fail with a confusing "unsupported protocol".
func checkServerURL(s string) error {
	if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
		return fmt.Errorf("invalid --server %q: want http://host:port or https://host:port", s)
	}
	return nil
}

// verb wraps a command body: it resolves globals, wires Ctrl-C to the
// request context and adds hints to auth errors.
func (g *globals) verb(fn func(e *env, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		server, token, format, err := g.resolve(cmd)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
		defer stop()
		e := &env{
			client: client.New(server, token),
			format: format,
			ctx:    ctx,
			stdout: cmd.OutOrStdout(),
			stderr: cmd.ErrOrStderr(),
			stdin:  cmd.InOrStdin(),
		}
		return explain(fn(e, args))
	}
}

// explain adds what to do next to errors an operator can fix locally.
func explain(err error) error {
	var ae *client.APIError
	if !errors.As(err, &ae) {
		return err
	}
	switch ae.Status {
	case http.StatusUnauthorized:
		return fmt.Errorf("%w\n(pass --token or set %s)", err, envToken)
	case http.StatusForbidden:
		return fmt.Errorf("%w\n(your token's role does not allow this)", err)
	}
	return err
}

// now is replaceable so tests can pin relative times and deadlines.
var now = time.Now

// parseSince turns "--since 1h" into an RFC 3339 instant; an RFC 3339
// value or a bare date passes through normalised to UTC.
func parseSince(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC().Format(time.RFC3339), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return t.UTC().Format(time.RFC3339), nil
	}
	d, err := duration.Parse(s)
	if err != nil {
		return "", fmt.Errorf("invalid --since %q: want a duration (1h, 7d) or an RFC 3339 time", s)
	}
	return now().Add(-d).UTC().Format(time.RFC3339), nil
}

// manifestInput reads -f FILE ("-" = stdin) and picks the content type the
// server's decoder needs: by extension, or by sniffing stdin.
func manifestInput(e *env, path string) ([]byte, string, error) {
	if path == "" {
		return nil, "", errors.New("-f FILE is required (use -f - for stdin)")
	}
	var (
		body []byte
		err  error
	)
	if path == "-" {
		body, err = io.ReadAll(e.stdin)
	} else {
		body, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, "", fmt.Errorf("read manifest: %w", err)
	}
	return body, manifestType(path, body), nil
}

func manifestType(path string, body []byte) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return "application/json"
	case ".yaml", ".yml":
		return "application/yaml"
	}
	if t := strings.TrimSpace(string(body)); strings.HasPrefix(t, "{") {
		return "application/json"
	}
	return "application/yaml"
}

// pagingFlags adds --limit/--offset to a list verb.
func pagingFlags(cmd *cobra.Command, p *client.Paging) {
	cmd.Flags().IntVar(&p.Limit, "limit", 0, "maximum number of items (server default when 0)")
	cmd.Flags().IntVar(&p.Offset, "offset", 0, "skip this many items")
}

func checkPaging(p client.Paging) error {
	if p.Limit < 0 || p.Offset < 0 {
		return errors.New("--limit and --offset must be >= 0")
	}
	return nil
}
