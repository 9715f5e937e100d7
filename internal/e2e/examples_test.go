package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The files in examples/ are what a new user applies first; they must stay
// valid against the real server.
func TestExamplesApply(t *testing.T) {
	s := startServer(t)
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	// Jobs first: schedules reference them.
	for _, pass := range []string{"job", "schedule"} {
		for _, f := range files {
			isSchedule := strings.HasSuffix(f, ".schedule.yaml")
			if (pass == "schedule") != isSchedule {
				continue
			}
			if _, err := os.Stat(f); err != nil {
				t.Fatal(err)
			}
			if out, code := s.cli(t, pass, "apply", "-f", f); code != 0 {
				t.Errorf("%s apply -f %s: exit %d\n%s", pass, f, code, out)
			}
		}
	}
}
