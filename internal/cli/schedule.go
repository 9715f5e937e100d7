package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/client"
	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/store"
)

func newScheduleCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "schedule",
		Aliases: []string{"schedules"},
		Short:   "Manage schedules (when and where jobs run)",
	}
	cmd.AddCommand(
		newScheduleApplyCmd(g), newScheduleListCmd(g), newScheduleGetCmd(g), newScheduleDeleteCmd(g),
		newScheduleToggleCmd(g, true), newScheduleToggleCmd(g, false),
		newSchedulePreviewCmd(g), newScheduleTicksCmd(g), newScheduleCoverageCmd(g),
	)
	return cmd
}

func newScheduleApplyCmd(g *globals) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Create or update a schedule from a YAML or JSON manifest",
		Args:  cobra.NoArgs,
		RunE: g.verb(func(e *env, _ []string) error {
			body, ctype, err := manifestInput(e, file)
			if err != nil {
				return err
			}
			rep, err := e.client.ApplySchedule(e.ctx, bytes.NewReader(body), ctype)
			if err != nil {
				return err
			}
			// Warnings ("will never fire") matter even when scripting.
			if e.format != "table" {
				for _, w := range rep.Value.Warnings {
					fmt.Fprintln(e.stderr, "warning:", w)
				}
			}
			return e.show(rep.Raw, func(w io.Writer) error {
				printApplied(w, "schedule", rep.Value)
				return nil
			})
		}),
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "manifest file (- for stdin)")
	return cmd
}

func newScheduleListCmd(g *globals) *cobra.Command {
	var p client.Paging
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List schedules",
		Args:    cobra.NoArgs,
		RunE: g.verb(func(e *env, _ []string) error {
			if err := checkPaging(p); err != nil {
				return err
			}
			rep, err := e.client.ListSchedules(e.ctx, p)
			if err != nil {
				return err
			}
			return e.show(rep.Raw, func(w io.Writer) error { return scheduleTable(w, rep.Value) })
		}),
	}
	pagingFlags(cmd, &p)
	return cmd
}

func scheduleTable(w io.Writer, page store.Page[manifest.Schedule]) error {
	if len(page.Items) == 0 && page.Total == 0 {
		_, err := fmt.Fprintln(w, "no schedules")
		return err
	}
	tw := newTable(w, "ID", "JOB", "WHEN", "TARGET", "ENABLED", "RUNS ON")
	for _, s := range page.Items {
		row(tw, s.ID, s.JobID, whenText(s.When), targetOf(s.Target), enabledText(s.IsEnabled()), runsOn(s.RunsOn))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	totals(w, len(page.Items), page.Total, page.Offset)
	return nil
}

// whenText is the one-line form of a schedule's trigger.
func whenText(w manifest.When) string {
	repeat := func(kind string, r *manifest.Repeat) string {
		if r.Once {
			return kind + " once"
		}
		return kind + " every " + durationText(r.Every)
	}
	switch {
	case w.PerPC != nil:
		return repeat("per pc", w.PerPC)
	case w.PerTarget != nil:
		return repeat("per target", w.PerTarget)
	case w.Calendar != nil:
		s := "at " + w.Calendar.At
		if len(w.Calendar.Days) > 0 {
			s += " on " + strings.Join(w.Calendar.Days, ",")
		}
		return s
	}
	return "-"
}

func targetOf(t manifest.Target) string {
	var parts []string
	if t.All {
		parts = append(parts, "all")
	}
	if len(t.Groups) > 0 {
		parts = append(parts, "groups="+strings.Join(t.Groups, ","))
	}
	if len(t.PCs) > 0 {
		parts = append(parts, "pcs="+strings.Join(t.PCs, ","))
	}
	return strings.Join(parts, " ")
}

// targetText describes a stored target, tolerating shapes it cannot read.
func targetText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "-"
	}
	var t manifest.Target
	if json.Unmarshal(raw, &t) != nil || t.Empty() {
		return string(raw)
	}
	return targetOf(t)
}

func enabledText(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func runsOn(s string) string {
	if s == "" {
		return "backend"
	}
	return s
}

func newScheduleGetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show one schedule",
		Args:  cobra.ExactArgs(1),
		RunE: g.verb(func(e *env, args []string) error {
			rep, err := e.client.GetSchedule(e.ctx, args[0])
			if err != nil {
				return err
			}
			return e.show(rep.Raw, func(w io.Writer) error { return scheduleDetail(w, rep.Value) })
		}),
	}
}

func scheduleDetail(w io.Writer, s manifest.Schedule) error {
	active := "always"
	if s.Active != nil {
		active = "[" + cell(s.Active.From) + ", " + cell(s.Active.Until) + ")"
	}
	waves := "-"
	if s.Rollout != nil {
		var ws []string
		for _, wv := range s.Rollout.Waves {
			ws = append(ws, wv.Group+"@+"+durationText(wv.Delay))
		}
		waves = strings.Join(ws, " ")
	}
	return fields(w,
		"ID", s.ID,
		"Job", s.JobID,
		"When", whenText(s.When),
		"Target", cell(targetOf(s.Target)),
		"Rollout", waves,
		"Jitter", cell(durationText(s.Jitter)),
		"Time zone", cell(s.TZ),
		"Active", active,
		"Starting deadline", cell(durationText(s.StartingDeadline)),
		"Runs on", runsOn(s.RunsOn),
		"Enabled", enabledText(s.IsEnabled()),
	)
}

func newScheduleDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "delete ID",
		Aliases: []string{"rm"},
		Short:   "Delete a schedule",
		Args:    cobra.ExactArgs(1),
		RunE: g.verb(func(e *env, args []string) error {
			if err := e.client.DeleteSchedule(e.ctx, args[0]); err != nil {
				return err
			}
			_, err := fmt.Fprintf(e.stdout, "schedule %s deleted\n", args[0])
			return err
		}),
	}
}

func newScheduleToggleCmd(g *globals, enable bool) *cobra.Command {
	verb, past := "disable", "disabled"
	if enable {
		verb, past = "enable", "enabled"
	}
	return &cobra.Command{
		Use:   verb + " ID",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a schedule",
		Args:  cobra.ExactArgs(1),
		RunE: g.verb(func(e *env, args []string) error {
			rep, err := e.client.SetScheduleEnabled(e.ctx, args[0], enable)
			if err != nil {
				return err
			}
			return e.show(nonEmptyJSON(rep.Raw), func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "schedule %s %s\n", args[0], past)
				return err
			})
		}),
	}
}

func newSchedulePreviewCmd(g *globals) *cobra.Command {
	var count int
	cmd := &cobra.Command{
		Use:   "preview ID",
		Short: "Show the next fire times and which PCs would fire now, and why",
		Args:  cobra.ExactArgs(1),
		RunE: g.verb(func(e *env, args []string) error {
			if count < 0 {
				return fmt.Errorf("--count must be >= 0")
			}
			rep, err := e.client.PreviewSchedule(e.ctx, args[0], count)
			if err != nil {
				return err
			}
			return e.show(rep.Raw, func(w io.Writer) error { return previewText(w, rep.Value) })
		}),
	}
	cmd.Flags().IntVar(&count, "count", 5, "how many next fire times to show")
	return cmd
}

func previewText(w io.Writer, p client.Preview) error {
	fmt.Fprintln(w, "Next fires:")
	if len(p.Next) == 0 {
		fmt.Fprintln(w, "  - (none: not a calendar schedule, or no future instant)")
	}
	for _, s := range p.Next {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			s += " (" + ago(t) + ")"
		}
		fmt.Fprintln(w, "  "+s)
	}
	if len(p.WouldFire) == 0 || string(p.WouldFire) == "null" {
		return nil
	}
	// would_fire explains a decision; its shape is the server's to grow,
	// so it is shown as YAML rather than squeezed into columns.
	fmt.Fprintln(w, "Would fire now:")
	var buf bytes.Buffer
	if err := writeYAML(&buf, p.WouldFire); err != nil {
		return err
	}
	for _, l := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		fmt.Fprintln(w, "  "+l)
	}
	return nil
}

func newScheduleTicksCmd(g *globals) *cobra.Command {
	var p client.Paging
	cmd := &cobra.Command{
		Use:   "ticks ID",
		Short: "Show the decision log: what each tick did and why",
		Args:  cobra.ExactArgs(1),
		RunE: g.verb(func(e *env, args []string) error {
			if err := checkPaging(p); err != nil {
				return err
			}
			rep, err := e.client.ScheduleTicks(e.ctx, args[0], p)
			if err != nil {
				return err
			}
			return e.show(rep.Raw, func(w io.Writer) error { return tickTable(w, rep.Value) })
		}),
	}
	pagingFlags(cmd, &p)
	return cmd
}

func tickTable(w io.Writer, page store.Page[store.Tick]) error {
	if len(page.Items) == 0 && page.Total == 0 {
		_, err := fmt.Fprintln(w, "no ticks yet")
		return err
	}
	tw := newTable(w, "TICK AT", "ACTION", "REASON", "EXPECTED", "ARMED", "SUPPRESSED", "FIRED", "EXEC ID")
	for _, t := range page.Items {
		row(tw, t.TickAt.UTC().Format(time.RFC3339), t.Action, t.Reason,
			fmt.Sprint(t.Expected), fmt.Sprint(t.Armed), fmt.Sprint(t.Suppressed), fmt.Sprint(t.Fired), t.ExecID)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	totals(w, len(page.Items), page.Total, page.Offset)
	return nil
}

func newScheduleCoverageCmd(g *globals) *cobra.Command {
	var p client.Paging
	cmd := &cobra.Command{
		Use:   "coverage ID",
		Short: "Show, per roster PC, whether the schedule's job has run: ok / failed / running / pending",
		Args:  cobra.ExactArgs(1),
		RunE: g.verb(func(e *env, args []string) error {
			if err := checkPaging(p); err != nil {
				return err
			}
			rep, err := e.client.ScheduleCoverage(e.ctx, args[0], p)
			if err != nil {
				return err
			}
			return e.show(rep.Raw, func(w io.Writer) error { return coverageTable(w, rep.Value) })
		}),
	}
	pagingFlags(cmd, &p)
	return cmd
}

func coverageTable(w io.Writer, c client.Coverage) error {
	if len(c.Items) == 0 {
		_, err := fmt.Fprintln(w, "no PCs in the schedule's target")
		return err
	}
	tw := newTable(w, "PC", "STATE")
	counts := map[string]int{}
	for _, it := range c.Items {
		row(tw, it.PCID, it.State)
		counts[it.State]++
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	states := make([]string, 0, len(counts))
	for s := range counts {
		states = append(states, s)
	}
	sort.Strings(states)
	parts := make([]string, len(states))
	for i, s := range states {
		parts[i] = fmt.Sprintf("%d %s", counts[s], s)
	}
	total := c.Total
	if total < len(c.Items) {
		total = len(c.Items)
	}
	_, err := fmt.Fprintf(w, "%s (showing %d of %d)\n", strings.Join(parts, ", "), len(c.Items), total)
	return err
}
