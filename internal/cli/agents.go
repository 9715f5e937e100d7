package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/client"
	"github.com/kanade-dev/kanade/internal/store"
)

func newAgentsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "agents",
		Aliases: []string{"agent"},
		Short:   "Inspect and forget agents (PCs)",
	}
	cmd.AddCommand(newAgentsListCmd(g), newAgentsGetCmd(g), newAgentsDeleteCmd(g))
	return cmd
}

func newAgentsListCmd(g *globals) *cobra.Command {
	var f client.AgentFilter
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List agents",
		Args:    cobra.NoArgs,
		RunE: g.verb(func(e *env, _ []string) error {
			if err := checkPaging(f.Paging); err != nil {
				return err
			}
			if f.Status != "" && f.Status != "online" && f.Status != "offline" {
				return fmt.Errorf("invalid --status %q: want online or offline", f.Status)
			}
			rep, err := e.client.ListAgents(e.ctx, f)
			if err != nil {
				return err
			}
			return e.show(rep.Raw, func(w io.Writer) error { return agentTable(w, rep.Value) })
		}),
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.Q, "query", "q", "", "substring or regex on pc_id/hostname")
	fl.StringVar(&f.Group, "group", "", "only members of this group")
	fl.StringVar(&f.Status, "status", "", "online|offline")
	fl.StringVar(&f.OS, "os", "", "only this OS (linux, windows, darwin)")
	pagingFlags(cmd, &f.Paging)
	return cmd
}

func agentTable(w io.Writer, page store.Page[store.Agent]) error {
	if len(page.Items) == 0 && page.Total == 0 {
		_, err := fmt.Fprintln(w, "no agents")
		return err
	}
	tw := newTable(w, "PC", "STATUS", "OS", "ARCH", "VERSION", "GROUPS", "LAST HEARTBEAT")
	for _, a := range page.Items {
		row(tw, a.PCID, onlineText(a.Online), a.OS, a.Arch, a.AgentVersion, joinOr(a.Groups, "-"), ago(a.LastHeartbeat))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	totals(w, len(page.Items), page.Total, page.Offset)
	return nil
}

func onlineText(online bool) string {
	if online {
		return "online"
	}
	return "offline"
}

func newAgentsGetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "get PC",
		Short: "Show one agent",
		Args:  cobra.ExactArgs(1),
		RunE: g.verb(func(e *env, args []string) error {
			rep, err := e.client.GetAgent(e.ctx, args[0])
			if err != nil {
				return err
			}
			return e.show(rep.Raw, func(w io.Writer) error { return agentDetail(w, rep.Value) })
		}),
	}
}

func agentDetail(w io.Writer, a store.Agent) error {
	return fields(w,
		"PC", a.PCID,
		"Status", onlineText(a.Online),
		"Hostname", cell(a.Hostname),
		"OS / arch", a.OS+"/"+a.Arch,
		"Agent version", cell(a.AgentVersion),
		"Groups", joinOr(a.Groups, "-"),
		"Last heartbeat", timestamp(&a.LastHeartbeat),
		"First seen", timestamp(&a.FirstSeen),
		"Boot time", timestamp(&a.BootTime),
		"Agent RSS", fmt.Sprintf("%.1f MiB", float64(a.RSSBytes)/(1<<20)),
		"Agent CPU", fmt.Sprintf("%.1f%%", a.CPUPct),
	)
}

func newAgentsDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "delete PC",
		Aliases: []string{"rm"},
		Short:   "Forget an agent (it reappears if it heartbeats again)",
		Args:    cobra.ExactArgs(1),
		RunE: g.verb(func(e *env, args []string) error {
			if err := e.client.DeleteAgent(e.ctx, args[0]); err != nil {
				return err
			}
			_, err := fmt.Fprintf(e.stdout, "agent %s deleted\n", args[0])
			return err
		}),
	}
}
