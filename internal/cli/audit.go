package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/client"
	"github.com/kanade-dev/kanade/internal/store"
)

func newAuditCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read the audit log",
	}
	cmd.AddCommand(newAuditListCmd(g))
	return cmd
}

func newAuditListCmd(g *globals) *cobra.Command {
	var f client.AuditFilter
	var since string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List audit events, newest first",
		Args:    cobra.NoArgs,
		RunE: g.verb(func(e *env, _ []string) error {
			if err := checkPaging(f.Paging); err != nil {
				return err
			}
			var err error
			if f.Since, err = parseSince(since); err != nil {
				return err
			}
			rep, err := e.client.ListAudit(e.ctx, f)
			if err != nil {
				return err
			}
			return e.show(rep.Raw, func(w io.Writer) error { return auditTable(w, rep.Value) })
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Actor, "actor", "", "only this actor")
	fl.StringVar(&f.Action, "action", "", "only this action (exec, job.apply, ...)")
	fl.StringVar(&f.Target, "target", "", "only this target")
	fl.StringVar(&since, "since", "", "only newer than a duration ago (1h, 7d) or an RFC 3339 time")
	pagingFlags(cmd, &f.Paging)
	return cmd
}

func auditTable(w io.Writer, page store.Page[store.AuditEntry]) error {
	if len(page.Items) == 0 && page.Total == 0 {
		_, err := fmt.Fprintln(w, "no audit events")
		return err
	}
	tw := newTable(w, "SEQ", "WHEN", "ACTOR", "ACTION", "TARGET")
	for _, a := range page.Items {
		row(tw, fmt.Sprint(a.Seq), ago(a.OccurredAt), a.Actor, a.Action, a.Target)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	totals(w, len(page.Items), page.Total, page.Offset)
	return nil
}
