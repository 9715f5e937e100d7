package cli

import (
	"bytes"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/client"
	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/store"
)

func newJobCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "job",
		Aliases: []string{"jobs"},
		Short:   "Manage the job catalog (what to run)",
	}
	cmd.AddCommand(newJobApplyCmd(g), newJobListCmd(g), newJobGetCmd(g), newJobDeleteCmd(g), newJobValidateCmd(g))
	return cmd
}

func newJobApplyCmd(g *globals) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Create or update a job from a YAML or JSON manifest",
		Args:  cobra.NoArgs,
		RunE: g.verb(func(e *env, _ []string) error {
			body, ctype, err := manifestInput(e, file)
			if err != nil {
				return err
			}
			rep, err := e.client.ApplyJob(e.ctx, bytes.NewReader(body), ctype)
			if err != nil {
				return err
			}
			return e.show(rep.Raw, func(w io.Writer) error {
				printApplied(w, "job", rep.Value)
				return nil
			})
		}),
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "manifest file (- for stdin)")
	return cmd
}

// printApplied confirms a create/update and repeats any warning.
func printApplied(w io.Writer, kind string, a client.ApplyResult) {
	what := kind
	if a.ID != "" {
		what += " " + a.ID
	}
	if a.Version != "" {
		what += " (version " + a.Version + ")"
	}
	verb := "applied"
	if a.Created != nil && *a.Created {
		verb = "created"
	} else if a.Created != nil {
		verb = "updated"
	}
	fmt.Fprintln(w, what, verb)
	for _, warn := range a.Warnings {
		fmt.Fprintln(w, "warning:", warn)
	}
}

func newJobValidateCmd(g *globals) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "validate -f FILE",
		Short: "Check a job manifest without storing it",
		Args:  cobra.NoArgs,
		RunE: g.verb(func(e *env, _ []string) error {
			body, ctype, err := manifestInput(e, file)
			if err != nil {
				return err
			}
			rep, err := e.client.ValidateJob(e.ctx, bytes.NewReader(body), ctype)
			if err != nil {
				return err
			}
			return e.show(rep.Raw, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, "valid")
				return err
			})
		}),
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "manifest file (- for stdin)")
	return cmd
}

func newJobListCmd(g *globals) *cobra.Command {
	var p client.Paging
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List jobs",
		Args:    cobra.NoArgs,
		RunE: g.verb(func(e *env, _ []string) error {
			if err := checkPaging(p); err != nil {
				return err
			}
			rep, err := e.client.ListJobs(e.ctx, p)
			if err != nil {
				return err
			}
			return e.show(rep.Raw, func(w io.Writer) error { return jobTable(w, rep.Value) })
		}),
	}
	pagingFlags(cmd, &p)
	return cmd
}

func jobTable(w io.Writer, page store.Page[manifest.Job]) error {
	if len(page.Items) == 0 && page.Total == 0 {
		_, err := fmt.Fprintln(w, "no jobs")
		return err
	}
	tw := newTable(w, "ID", "VERSION", "SHELL", "TIMEOUT", "DESCRIPTION")
	for _, j := range page.Items {
		row(tw, j.ID, j.Version, j.Execute.Shell, durationText(j.Execute.Timeout), j.Description)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	totals(w, len(page.Items), page.Total, page.Offset)
	return nil
}

func durationText(d manifest.Duration) string {
	if d == 0 {
		return ""
	}
	b, _ := d.MarshalJSON()
	return string(bytes.Trim(b, `"`))
}

func newJobGetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show one job",
		Args:  cobra.ExactArgs(1),
		RunE: g.verb(func(e *env, args []string) error {
			// The server renders its own YAML so what an operator sees is
			// what they can edit and apply back.
			if e.format == "yaml" {
				b, err := e.client.GetJobYAML(e.ctx, args[0])
				if err != nil {
					return err
				}
				_, err = e.stdout.Write(b)
				return err
			}
			rep, err := e.client.GetJob(e.ctx, args[0])
			if err != nil {
				return err
			}
			return e.show(rep.Raw, func(w io.Writer) error { return jobDetail(w, rep.Value) })
		}),
	}
}

func jobDetail(w io.Writer, j manifest.Job) error {
	x := j.Execute
	err := fields(w,
		"ID", j.ID,
		"Version", j.Version,
		"Description", cell(j.Description),
		"Shell", x.Shell,
		"Timeout", durationText(x.Timeout),
		"Cwd", cell(x.Cwd),
	)
	if err != nil {
		return err
	}
	if len(x.Env) > 0 {
		keys := make([]string, 0, len(x.Env))
		for k := range x.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintln(w, "Env:")
		for _, k := range keys {
			fmt.Fprintf(w, "  %s=%s\n", k, x.Env[k])
		}
	}
	block(w, "Script", x.Script, false)
	return nil
}

func newJobDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "delete ID",
		Aliases: []string{"rm"},
		Short:   "Delete a job (refused while a schedule references it)",
		Args:    cobra.ExactArgs(1),
		RunE: g.verb(func(e *env, args []string) error {
			if err := e.client.DeleteJob(e.ctx, args[0]); err != nil {
				return err
			}
			_, err := fmt.Fprintf(e.stdout, "job %s deleted\n", args[0])
			return err
		}),
	}
}
