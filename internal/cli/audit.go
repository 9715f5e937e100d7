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
	cmd := historyList(g, "List audit events, newest first", &f.Paging, &f.Since,
		func(e *env) (client.Reply[store.Page[store.AuditEntry]], error) {
			return e.client.ListAudit(e.ctx, f)
		},
		auditTable)
	fl := cmd.Flags()
	fl.StringVar(&f.Actor, "actor", "", "only this actor")
	fl.StringVar(&f.Action, "action", "", "only this action (exec, job.apply, ...)")
	fl.StringVar(&f.Target, "target", "", "only this target")
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
