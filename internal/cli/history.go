package cli

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/client"
	"github.com/kanade-dev/kanade/internal/store"
)

// historyList builds the `list` verb of a paged, newest-first history
// (executions, results, audit): paging and --since checked before any
// request, then the page shown as a table or raw. The caller adds its own
// filter flags to the returned command.
func historyList[T any](g *globals, short string, paging *client.Paging, since *string,
	fetch func(e *env) (client.Reply[store.Page[T]], error),
	table func(io.Writer, store.Page[T]) error) *cobra.Command {
	var sinceFlag string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   short,
		Args:    cobra.NoArgs,
		RunE: g.verb(func(e *env, _ []string) error {
			if err := checkPaging(*paging); err != nil {
				return err
			}
			s, err := parseSince(sinceFlag)
			if err != nil {
				return err
			}
			*since = s // the filter fetch sends
			rep, err := fetch(e)
			if err != nil {
				return err
			}
			return e.show(rep.Raw, func(w io.Writer) error { return table(w, rep.Value) })
		}),
	}
	cmd.Flags().StringVar(&sinceFlag, "since", "", "only newer than a duration ago (1h, 7d) or an RFC 3339 time")
	pagingFlags(cmd, paging)
	return cmd
}
