package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/client"
	"github.com/kanade-dev/kanade/internal/duration"
	"github.com/kanade-dev/kanade/internal/store"
)

func newRunCmd(g *globals) *cobra.Command {
	var shell, timeout string
	cmd := &cobra.Command{
		Use:   "run PC [--shell sh] [--timeout 60s] -- SCRIPT",
		Short: "Run an ad-hoc script on one PC, print its output and exit with its code",
		Example: `  kanade run web-01 -- 'uptime; df -h /'
  kanade run win-07 --shell pwsh -- 'Get-Service spooler'
  echo 'hostname' | kanade run web-01 -- -`,
		Args: cobra.MinimumNArgs(2),
		RunE: g.verb(func(e *env, args []string) error {
			req, err := runRequest(e, args, shell, timeout)
			if err != nil {
				return err
			}
			rep, err := e.client.Run(e.ctx, req)
			if err != nil {
				return err
			}
			if e.format != "table" {
				if err := e.show(rep.Raw, nil); err != nil {
					return err
				}
			} else {
				printRunOutput(e.stdout, e.stderr, rep.Value)
			}
			if code := runExitCode(rep.Value); code != 0 {
				return exitError{code: code}
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&shell, "shell", "sh", "shell to run the script with: sh|bash|pwsh|powershell|cmd")
	cmd.Flags().StringVar(&timeout, "timeout", "60s", "kill the script after this long")
	return cmd
}

// runRequest takes the script from the words after PC ("--" keeps their
// flags away from cobra); a lone "-" reads it from stdin.
func runRequest(e *env, args []string, shell, timeout string) (client.RunRequest, error) {
	if _, err := duration.Parse(timeout); err != nil {
		return client.RunRequest{}, fmt.Errorf("invalid --timeout: %w", err)
	}
	script := strings.Join(args[1:], " ")
	if script == "-" {
		b, err := io.ReadAll(e.stdin)
		if err != nil {
			return client.RunRequest{}, fmt.Errorf("read script from stdin: %w", err)
		}
		script = string(b)
	}
	if strings.TrimSpace(script) == "" {
		return client.RunRequest{}, errors.New("empty script")
	}
	return client.RunRequest{PC: args[0], Shell: shell, Script: script, Timeout: timeout}, nil
}

// printRunOutput passes the PC's streams through untouched and explains,
// on stderr, outcomes that have no exit code of their own.
func printRunOutput(stdout, stderr io.Writer, r store.Result) {
	io.WriteString(stdout, r.Stdout)
	io.WriteString(stderr, r.Stderr)
	if r.StdoutTruncated || r.StderrTruncated {
		fmt.Fprintln(stderr, "kanade: output truncated by the agent (see kanade results get "+r.ResultID+")")
	}
	switch {
	case r.TimedOut:
		fmt.Fprintln(stderr, "kanade: script timed out on", r.PCID)
	case r.Killed:
		fmt.Fprintln(stderr, "kanade: script was killed on", r.PCID)
	case r.Status == store.ResultSkipped:
		fmt.Fprintf(stderr, "kanade: skipped on %s (%s)\n", r.PCID, cell(r.SkipReason))
	case r.Status == store.ResultLost:
		fmt.Fprintln(stderr, "kanade: no result from", r.PCID, "(lost)")
	}
}

// runExitCode mirrors the script's exit code; anything that is not a
// clean exit but has no usable code (timeout, kill, skip, lost, -1) is 1.
func runExitCode(r store.Result) int {
	ok := r.Status == store.ResultSuccess || r.Status == ""
	if r.ExitCode != nil && *r.ExitCode > 0 && *r.ExitCode < 256 {
		return *r.ExitCode
	}
	if r.TimedOut || r.Killed || !ok || r.ExitCode == nil || *r.ExitCode != 0 {
		return 1
	}
	return 0
}
