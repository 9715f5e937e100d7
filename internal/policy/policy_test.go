package policy

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kanade-dev/kanade/internal/schedule"
)

// The cases live in testdata/*.txt, one per line: `INPUT => RESULT`, see
// the header of testdata/spec.txt for the grammar.
func TestPolicyTables(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			t.Run(fmt.Sprintf("%s:%d", filepath.Base(f), n), func(t *testing.T) {
				in, want, ok := strings.Cut(line, "=>")
				if !ok {
					t.Fatalf("no => in %q", line)
				}
				if got := run(t, strings.Fields(in), strings.Fields(want)); got != normalize(want) {
					t.Fatalf("%s\n got: %s\nwant: %s", line, got, normalize(want))
				}
			})
		}
		fh.Close()
	}
}

// normalize lets a case leave out the reason and counts it does not care
// about: only the words written are compared.
func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(t *testing.T, s string) time.Time {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("bad time %q", s)
	}
	return epoch.Add(time.Duration(n) * time.Second)
}

func secs(t *testing.T, s string) time.Duration { return at(t, s).Sub(epoch) }

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func marks(t *testing.T, s string) []Completion {
	var out []Completion
	for _, m := range list(s) {
		pc, ts, ok := strings.Cut(m, "@")
		if !ok {
			t.Fatalf("bad mark %q", m)
		}
		out = append(out, Completion{PC: pc, At: at(t, ts)})
	}
	return out
}

// run evaluates one case and renders its result with exactly the words
// the case expects, so "skip" matches any reason but "skip all_done" not.
func run(t *testing.T, words, want []string) string {
	kv := map[string]string{}
	for _, w := range words[1:] {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			t.Fatalf("bad word %q", w)
		}
		kv[k] = v
	}
	switch words[0] {
	case "window":
		return fmt.Sprint(int(Window(secs(t, kv["jitter"]), secs(t, kv["timeout"])).Seconds()))
	case "suppress":
		return runSuppress(t, kv, want)
	}
	roster, ok := kv["roster"]
	if !ok {
		roster = kv["expected"]
	}
	var cd time.Duration
	if kv["cd"] != "" {
		cd = secs(t, kv["cd"])
	}
	d := Decide(schedule.Mode(words[0]), cd, list(kv["expected"]), list(roster), marks(t, kv["completions"]), at(t, kv["now"]))
	return render(d, 0, want)
}

func runSuppress(t *testing.T, kv map[string]string, want []string) string {
	d := Decision{Action: FirePCs, PCs: list(kv["fire"])}
	if kv["fire"] == "whole" {
		d = Decision{Action: FireWhole}
	}
	pcMarks := map[string]time.Time{}
	for _, m := range marks(t, kv["marks"]) {
		pcMarks[m.PC] = m.At
	}
	var target *time.Time
	if kv["target"] != "" {
		tm := at(t, kv["target"])
		target = &tm
	}
	out, n := Suppress(d, pcMarks, target, secs(t, kv["window"]), at(t, kv["now"]))
	return render(out, n, want)
}

// render prints d using only the parts want mentions: the reason only if
// want names one after "skip", and only the counts want lists.
func render(d Decision, suppressed int, want []string) string {
	var s string
	switch d.Action {
	case FireWhole:
		s = "fire whole"
	case FirePCs:
		s = "fire " + strings.Join(d.PCs, ",")
	default:
		s = "skip"
		if len(want) > 1 && want[0] == "skip" && !strings.Contains(want[1], "=") {
			s += " " + d.Reason
		}
	}
	for _, w := range want {
		switch k, _, _ := strings.Cut(w, "="); k {
		case "armed":
			s += fmt.Sprintf(" armed=%d", d.Armed)
		case "suppressed":
			s += fmt.Sprintf(" suppressed=%d", suppressed)
		}
	}
	return s
}

func TestMarkKeysNeverCollide(t *testing.T) {
	ids := []string{"a", "b", "pc", "target", "a-b", "a_b", "A", "0", "pc-a", "target-x"}
	seen := map[string]string{}
	add := func(key, what string) {
		if prev, dup := seen[key]; dup {
			t.Fatalf("%s and %s share key %q", prev, what, key)
		}
		seen[key] = what
	}
	for _, s := range ids {
		add(MarkKeyTarget(s), "target "+s)
		for _, pc := range ids {
			add(MarkKeyPCs(s, pc), "pcs "+s+"/"+pc)
		}
	}
	if k := MarkKeyPCs("s", "p"); strings.Count(k, ".") != 2 || slices.Contains(strings.Split(k, "."), "") {
		t.Fatalf("unexpected key shape %q", k)
	}
}
