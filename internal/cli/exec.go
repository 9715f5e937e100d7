package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/client"
	"github.com/kanade-dev/kanade/internal/duration"
	"github.com/kanade-dev/kanade/internal/manifest"
)

// execFlags are the fan-out flags of "kanade exec".
type execFlags struct {
	all      bool
	groups   []string
	pcs      []string
	jitter   string
	deadline string
	wait     bool
}

func newExecCmd(g *globals) *cobra.Command {
	var f execFlags
	cmd := &cobra.Command{
		Use:   "exec JOB (--all | --group G... | --pc P...)",
		Short: "Run a job on a target, optionally waiting for every result",
		Example: `  kanade exec cleanup-temp --group canary --jitter 30s --wait
  kanade exec inventory-refresh --all --deadline 2h`,
		Args: cobra.ExactArgs(1),
		RunE: g.verb(func(e *env, args []string) error {
			req, err := f.request(now())
			if err != nil {
				return err
			}
			rep, err := e.client.Exec(e.ctx, args[0], req)
			if err != nil {
				return err
			}
			if f.wait {
				return waitExec(e, rep.Value)
			}
			return e.show(rep.Raw, func(w io.Writer) error {
				printExecStarted(w, rep.Value)
				return nil
			})
		}),
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.all, "all", false, "target every agent")
	fl.StringSliceVar(&f.groups, "group", nil, "target agents in this group (repeatable)")
	fl.StringSliceVar(&f.pcs, "pc", nil, "target this pc_id (repeatable)")
	fl.StringVar(&f.jitter, "jitter", "", "each agent delays its start by up to this duration (e.g. 30s)")
	fl.StringVar(&f.deadline, "deadline", "", "agents that get the command later than now+D skip it (e.g. 2h)")
	fl.BoolVar(&f.wait, "wait", false, "follow progress until every PC answered; exit 1 if any failed")
	return cmd
}

// request checks the flags and builds the plan; it runs before any
// request so a missing target never reaches the network.
func (f execFlags) request(at time.Time) (client.ExecRequest, error) {
	var req client.ExecRequest
	if !f.all && len(f.groups) == 0 && len(f.pcs) == 0 {
		return req, errors.New("no target: pass --all, --group G or --pc P")
	}
	if f.all && (len(f.groups) > 0 || len(f.pcs) > 0) {
		return req, errors.New("--all already targets every agent: drop --group/--pc, or drop --all")
	}
	if err := noBlank("--group", f.groups); err != nil {
		return req, err
	}
	if err := noBlank("--pc", f.pcs); err != nil {
		return req, err
	}
	req.Target = manifest.Target{All: f.all, Groups: f.groups, PCs: f.pcs}
	if f.jitter != "" {
		if _, err := duration.Parse(f.jitter); err != nil {
			return req, fmt.Errorf("invalid --jitter: %w", err)
		}
		req.Jitter = f.jitter
	}
	deadline, err := deadlineAt(f.deadline, at)
	if err != nil {
		return req, err
	}
	req.DeadlineAt = deadline
	return req, nil
}

func noBlank(flag string, vals []string) error {
	for _, v := range vals {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("%s: empty value", flag)
		}
	}
	return nil
}

// deadlineAt turns --deadline into the wire's RFC 3339 UTC instant. A
// relative duration counts from now (what an operator means by "2h"); an
// absolute RFC 3339 time is accepted as is.
func deadlineAt(s string, at time.Time) (string, error) {
	if s == "" {
		return "", nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC().Format(time.RFC3339), nil
	}
	d, err := duration.Parse(s)
	if err != nil {
		return "", fmt.Errorf("invalid --deadline %q: want a duration like 2h or an RFC 3339 time", s)
	}
	if d == 0 {
		return "", errors.New("invalid --deadline: must be > 0")
	}
	return at.Add(d).UTC().Format(time.RFC3339), nil
}

func printExecStarted(w io.Writer, r client.ExecResponse) {
	fmt.Fprintf(w, "exec %s started: job %s version %s on %d PC(s)\n", r.ExecID, r.JobID, r.Version, r.TargetCount)
	if len(r.Subjects) > 0 {
		fmt.Fprintf(w, "subjects: %s\n", strings.Join(r.Subjects, ", "))
	}
	fmt.Fprintf(w, "follow with: kanade executions get %s\n", r.ExecID)
}
