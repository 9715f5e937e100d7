package agentcmd

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The slim binary exists to keep the idle agent's resident pages small
// (docs/PERFORMANCE.md, "Idle agent (slim binary)"): linking the server
// side again would bring back ~8 MiB of touched binary pages.
func TestSlimBinaryDependencies(t *testing.T) {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := exec.LookPath(gobin); err != nil {
		if gobin, err = exec.LookPath("go"); err != nil {
			t.Skip("no go command to list dependencies with")
		}
	}
	out, err := exec.Command(gobin, "list", "-deps", "github.com/kanade-dev/kanade/cmd/kanade-agent").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	list := strings.Fields(string(out))
	deps := map[string]bool{}
	for _, p := range list {
		deps[p] = true
	}
	for _, must := range []string{"github.com/kanade-dev/kanade/internal/agent", "time/tzdata"} {
		if !deps[must] {
			t.Errorf("cmd/kanade-agent does not link %s", must)
		}
	}
	forbidden := []string{
		"github.com/nats-io/nats-server/",
		"modernc.org/sqlite",
		"github.com/prometheus/",
		"github.com/chromedp/",
		"github.com/kanade-dev/kanade/internal/server",
		"github.com/kanade-dev/kanade/internal/store",
		"github.com/kanade-dev/kanade/internal/web",
		"github.com/kanade-dev/kanade/internal/api",
		"github.com/kanade-dev/kanade/internal/bus/embedded",
	}
	for _, p := range list {
		for _, f := range forbidden {
			if p == f || strings.HasPrefix(p, strings.TrimSuffix(f, "/")+"/") {
				t.Errorf("cmd/kanade-agent links %s (forbidden: %s)", p, f)
			}
		}
	}
	// The operator CLI (its subpackages agentcmd and daemon are fine).
	if deps["github.com/kanade-dev/kanade/internal/cli"] {
		t.Error("cmd/kanade-agent links internal/cli (the whole operator CLI)")
	}
}
