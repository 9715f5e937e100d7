package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/client"
	"github.com/kanade-dev/kanade/internal/store"
)

func newResultsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "results",
		Aliases: []string{"result"},
		Short:   "Inspect per-PC results",
	}
	cmd.AddCommand(newResultsListCmd(g), newResultsGetCmd(g))
	return cmd
}

func newResultsListCmd(g *globals) *cobra.Command {
	var f client.ResultFilter
	cmd := historyList(g, "List results, newest first (output clipped; use get for all of it)", &f.Paging, &f.Since,
		func(e *env) (client.Reply[store.Page[store.Result]], error) {
			return e.client.ListResults(e.ctx, f)
		},
		resultTable)
	fl := cmd.Flags()
	fl.StringVar(&f.PC, "pc", "", "only this pc_id")
	fl.StringVar(&f.Job, "job", "", "only this job")
	fl.StringVar(&f.Exec, "exec", "", "only this execution")
	fl.StringVar(&f.Status, "status", "", "success|failure|running|skipped")
	return cmd
}

func resultTable(w io.Writer, page store.Page[store.Result]) error {
	if len(page.Items) == 0 && page.Total == 0 {
		_, err := fmt.Fprintln(w, "no results")
		return err
	}
	tw := newTable(w, "RESULT ID", "PC", "JOB", "EXEC ID", "STATUS", "EXIT", "DURATION", "FINISHED")
	for _, r := range page.Items {
		row(tw, r.ResultID, r.PCID, r.JobID, r.ExecID, resultStatus(r), exitCode(r.ExitCode),
			elapsed(r.StartedAt, r.FinishedAt), agoPtr(r.FinishedAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	totals(w, len(page.Items), page.Total, page.Offset)
	return nil
}

func newResultsGetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "get RESULT_ID",
		Short: "Show one result with its full output",
		Args:  cobra.ExactArgs(1),
		RunE: g.verb(func(e *env, args []string) error {
			rep, err := e.client.GetResult(e.ctx, args[0])
			if err != nil {
				return err
			}
			return e.show(rep.Raw, func(w io.Writer) error { return resultDetail(w, rep.Value) })
		}),
	}
}

func resultDetail(w io.Writer, r store.Result) error {
	err := fields(w,
		"Result ID", r.ResultID,
		"PC", r.PCID,
		"Job", r.JobID+" (version "+r.Version+")",
		"Exec ID", r.ExecID,
		"Status", resultStatus(r),
		"Exit code", exitCode(r.ExitCode),
		"Started", timestamp(r.StartedAt),
		"Finished", timestamp(r.FinishedAt),
		"Duration", elapsed(r.StartedAt, r.FinishedAt),
	)
	if err != nil {
		return err
	}
	block(w, "Stdout", r.Stdout, r.StdoutTruncated)
	block(w, "Stderr", r.Stderr, r.StderrTruncated)
	return nil
}
