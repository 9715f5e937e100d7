package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/client"
	"github.com/kanade-dev/kanade/internal/store"
)

func newGroupsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "groups",
		Aliases: []string{"group"},
		Short:   "List groups and edit agents' group membership",
	}
	cmd.AddCommand(newGroupsListCmd(g), newGroupsAddCmd(g), newGroupsRmCmd(g), newGroupsSetCmd(g))
	return cmd
}

func newGroupsListCmd(g *globals) *cobra.Command {
	var p client.Paging
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List groups and their members",
		Args:    cobra.NoArgs,
		RunE: g.verb(func(e *env, _ []string) error {
			if err := checkPaging(p); err != nil {
				return err
			}
			rep, err := e.client.ListGroups(e.ctx, p)
			if err != nil {
				return err
			}
			return e.show(rep.Raw, func(w io.Writer) error { return groupTable(w, rep.Value) })
		}),
	}
	pagingFlags(cmd, &p)
	return cmd
}

// maxMembersShown keeps a 5 000-member group on one readable line.
const maxMembersShown = 8

func groupTable(w io.Writer, page store.Page[client.GroupMembers]) error {
	if len(page.Items) == 0 && page.Total == 0 {
		_, err := fmt.Fprintln(w, "no groups")
		return err
	}
	tw := newTable(w, "GROUP", "COUNT", "MEMBERS")
	for _, gm := range page.Items {
		row(tw, gm.Group, fmt.Sprint(len(gm.Members)), membersText(gm.Members))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	totals(w, len(page.Items), page.Total, page.Offset)
	return nil
}

func membersText(m []string) string {
	if len(m) <= maxMembersShown {
		return joinOr(m, "-")
	}
	return strings.Join(m[:maxMembersShown], ",") + fmt.Sprintf(",… (+%d)", len(m)-maxMembersShown)
}

func printGroups(e *env, pc string, rep client.Reply[client.AgentGroups]) error {
	return e.show(nonEmptyJSON(rep.Raw), func(w io.Writer) error {
		if rep.Raw == nil || len(rep.Raw) == 0 {
			_, err := fmt.Fprintf(w, "%s: groups updated\n", pc)
			return err
		}
		_, err := fmt.Fprintf(w, "%s: %s\n", pc, joinOr(rep.Value.Groups, "(no groups)"))
		return err
	})
}

func newGroupsAddCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "add PC GROUP",
		Short: "Add a PC to a group",
		Args:  cobra.ExactArgs(2),
		RunE: g.verb(func(e *env, args []string) error {
			rep, err := e.client.AddAgentGroup(e.ctx, args[0], args[1])
			if err != nil {
				return err
			}
			return printGroups(e, args[0], rep)
		}),
	}
}

func newGroupsRmCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rm PC GROUP",
		Aliases: []string{"remove"},
		Short:   "Remove a PC from a group",
		Args:    cobra.ExactArgs(2),
		RunE: g.verb(func(e *env, args []string) error {
			if err := e.client.RemoveAgentGroup(e.ctx, args[0], args[1]); err != nil {
				return err
			}
			_, err := fmt.Fprintf(e.stdout, "%s removed from group %s\n", args[0], args[1])
			return err
		}),
	}
}

func newGroupsSetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "set PC [GROUP...]",
		Short: "Replace a PC's groups (no GROUP = no groups)",
		Args:  cobra.MinimumNArgs(1),
		RunE: g.verb(func(e *env, args []string) error {
			rep, err := e.client.SetAgentGroups(e.ctx, args[0], args[1:])
			if err != nil {
				return err
			}
			return printGroups(e, args[0], rep)
		}),
	}
}
