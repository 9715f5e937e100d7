package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/client"
	"github.com/kanade-dev/kanade/internal/store"
)

func newExecutionsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "executions",
		Aliases: []string{"execution", "execs"},
		Short:   "Inspect and kill executions",
	}
	cmd.AddCommand(newExecutionsListCmd(g), newExecutionsGetCmd(g), newExecutionsKillCmd(g))
	return cmd
}

func newExecutionsListCmd(g *globals) *cobra.Command {
	var f client.ExecutionFilter
	cmd := historyList(g, "List executions, newest first", &f.Paging, &f.Since,
		func(e *env) (client.Reply[store.Page[store.Execution]], error) {
			return e.client.ListExecutions(e.ctx, f)
		},
		executionTable)
	fl := cmd.Flags()
	fl.StringVar(&f.Job, "job", "", "only this job")
	fl.StringVar(&f.Status, "status", "", "pending|running|completed|expired")
	fl.StringVar(&f.Initiator, "initiator", "", "operator name or scheduler:<schedule_id>")
	return cmd
}

func executionTable(w io.Writer, page store.Page[store.Execution]) error {
	if len(page.Items) == 0 && page.Total == 0 {
		_, err := fmt.Fprintln(w, "no executions")
		return err
	}
	tw := newTable(w, "EXEC ID", "JOB", "VERSION", "STATUS", "DONE", "OK", "FAILED", "SKIPPED", "LOST", "INITIATOR", "STARTED")
	for _, x := range page.Items {
		done := x.Succeeded + x.Failed + x.Skipped + x.Lost
		row(tw, x.ExecID, x.JobID, x.Version, x.Status, fmt.Sprintf("%d/%d", done, x.TargetCount),
			fmt.Sprint(x.Succeeded), fmt.Sprint(x.Failed), fmt.Sprint(x.Skipped), fmt.Sprint(x.Lost),
			x.InitiatedBy, ago(x.InitiatedAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	totals(w, len(page.Items), page.Total, page.Offset)
	return nil
}

func newExecutionsGetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "get EXEC_ID",
		Short: "Show one execution with a row per targeted PC",
		Args:  cobra.ExactArgs(1),
		RunE: g.verb(func(e *env, args []string) error {
			rep, err := e.client.GetExecution(e.ctx, args[0])
			if err != nil {
				return err
			}
			return e.show(rep.Raw, func(w io.Writer) error { return executionDetail(w, rep.Value) })
		}),
	}
}

func executionDetail(w io.Writer, d client.ExecutionDetail) error {
	x := d.Execution
	err := fields(w,
		"Exec ID", x.ExecID,
		"Job", x.JobID+" (version "+x.Version+")",
		"Status", x.Status,
		"Initiated by", x.InitiatedBy,
		"Initiated at", timestamp(&x.InitiatedAt),
		"Deadline", timestamp(x.DeadlineAt),
		"Finished at", timestamp(x.FinishedAt),
		"Target", targetText(x.Target),
		"Subjects", joinOr(x.Subjects, "-"),
	)
	if err != nil {
		return err
	}
	fmt.Fprintln(w)
	return execSummary(w, d)
}

func newExecutionsKillCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "kill EXEC_ID",
		Short: "Kill an execution's running processes on every PC",
		Args:  cobra.ExactArgs(1),
		RunE: g.verb(func(e *env, args []string) error {
			rep, err := e.client.KillExecution(e.ctx, args[0])
			if err != nil {
				return err
			}
			return e.show(nonEmptyJSON(rep.Raw), func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "kill sent for execution %s\n", args[0])
				return err
			})
		}),
	}
}

// nonEmptyJSON lets -o json print something valid for a 204 answer.
func nonEmptyJSON(raw []byte) []byte {
	if len(raw) == 0 {
		return []byte("{}")
	}
	return raw
}
