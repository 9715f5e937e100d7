package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"
)

var outputFormats = []string{"table", "json", "yaml"}

func parseOutput(s string) (string, error) {
	for _, f := range outputFormats {
		if s == f {
			return s, nil
		}
	}
	return "", fmt.Errorf("invalid --output %q: want one of %s", s, strings.Join(outputFormats, ", "))
}

// show prints an answer: json/yaml print the server's bytes (so fields this
// CLI does not know still show), table calls the verb's renderer.
func (e *env) show(raw []byte, table func(w io.Writer) error) error {
	switch e.format {
	case "json":
		return writeJSON(e.stdout, raw)
	case "yaml":
		return writeYAML(e.stdout, raw)
	}
	return table(e.stdout)
}

func writeJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(raw), "", "  "); err != nil {
		return fmt.Errorf("format json: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// writeYAML converts JSON to YAML through a yaml.Node rather than a map, so
// keys keep the server's order instead of being sorted.
func writeYAML(w io.Writer, raw []byte) error {
	var n yaml.Node
	if err := yaml.Unmarshal(raw, &n); err != nil {
		return fmt.Errorf("convert to yaml: %w", err)
	}
	blockStyle(&n)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return fmt.Errorf("convert to yaml: %w", err)
	}
	return enc.Close()
}

// blockStyle drops the flow and quoting styles JSON syntax implies; the
// encoder then re-quotes only strings that would otherwise change type.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// table is a tabwriter with the CLI's column spacing.
func newTable(w io.Writer, header ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(header) > 0 {
		fmt.Fprintln(tw, strings.Join(header, "\t"))
	}
	return tw
}

func row(w io.Writer, cols ...string) {
	for i, c := range cols {
		cols[i] = cell(c)
	}
	fmt.Fprintln(w, strings.Join(cols, "\t"))
}

// cell keeps one value on one line so a stray newline or tab cannot break
// the columns.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.NewReplacer("\n", " ", "\t", " ", "\r", "").Replace(s)
}

// totals says how much of a list the page shows, so "10 rows" is never
// mistaken for "10 in total".
func totals(w io.Writer, shown, total, offset int) {
	switch {
	case total <= shown && offset == 0:
		fmt.Fprintf(w, "showing %d of %d\n", shown, total)
	case shown == 0:
		fmt.Fprintf(w, "showing 0 of %d (offset %d)\n", total, offset)
	default:
		fmt.Fprintf(w, "showing %d-%d of %d\n", offset+1, offset+shown, total)
	}
}

// ago renders t relative to now ("3m ago", "in 2h"); the zero time is
// "never" because a missing heartbeat is not "56 years ago".
func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now().Sub(t)
	if d < 0 {
		return "in " + short(-d)
	}
	if d < time.Second {
		return "just now"
	}
	return short(d) + " ago"
}

func agoPtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return ago(*t)
}

// short is a coarse, human duration: one or two units, never "1h2m3.4s".
func short(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		h := int(d.Hours())
		if m := int(d.Minutes()) % 60; m != 0 && h < 10 {
			return fmt.Sprintf("%dh%dm", h, m)
		}
		return fmt.Sprintf("%dh", h)
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// elapsed is a run's duration with sub-second precision where it matters.
func elapsed(start, end *time.Time) string {
	if start == nil || end == nil {
		return "-"
	}
	d := end.Sub(*start)
	if d < 0 {
		return "-"
	}
	if d < time.Minute {
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func timestamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339) + " (" + ago(*t) + ")"
}

func firstLineOf(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	const max = 60
	if r := []rune(s); len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}

func exitCode(p *int) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

func joinOr(items []string, none string) string {
	if len(items) == 0 {
		return none
	}
	return strings.Join(items, ",")
}

// fields prints "Key: value" pairs aligned, for the get verbs.
func fields(w io.Writer, kv ...string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[i], kv[i+1])
	}
	return tw.Flush()
}

// block prints a titled multi-line text (a script, an output stream).
func block(w io.Writer, title, text string, truncated bool) {
	if text == "" {
		return
	}
	suffix := ""
	if truncated {
		suffix = " (truncated)"
	}
	fmt.Fprintf(w, "\n%s%s:\n", title, suffix)
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		fmt.Fprintln(w, "  "+l)
	}
}
