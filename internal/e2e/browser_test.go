package e2e

// TestBrowserDashboard drives the embedded dashboard in headless Chromium
// against the real `kanade server` and real agent processes, and checks
// what a user sees. Screenshots of every page at desktop and phone width
// land in test-artifacts/screenshots/ at the repository root.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/testutil"
)

// startAgentEnv is startAgent with extra environment for the agent
// process; the jobs' scripts inherit it, which makes a PC's behaviour
// deterministic (how long it sleeps, whether it fails).
func startAgentEnv(t testing.TB, srv *server, pcID string, env ...string) *proc {
	t.Helper()
	return startProc(t, "agent "+pcID, env, "agent", "--pc-id", pcID, "--nats-url", srv.NATSURL(),
		"--data-dir", filepath.Join(srv.dataDir, "..", "agent-"+pcID), "--heartbeat-interval", "1s")
}

type execView struct {
	Progress string   `json:"progress"`
	Status   string   `json:"status"`
	Rows     []string `json:"rows"`
}

const execViewJS = `(() => ({
	progress: ((document.querySelector('[data-testid=exec-progress]') || {}).textContent || '').trim(),
	status: ((document.querySelector('[data-testid=exec-status]') || {}).textContent || '').trim(),
	rows: [...document.querySelectorAll('[data-testid=result-row]')].map(r => r.dataset.pc + '=' + r.dataset.status),
}))()`

func TestBrowserDashboard(t *testing.T) {
	start := time.Now()
	shots := filepath.Join(repoRoot(t), screenshotDir)
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	// First, so a machine without Chromium fails at once and plainly.
	browser := startBrowser(t)

	s := startServer(t)
	// lab-1..3 form the group "lab" and sleep 1, 2 and 3 s in the slow
	// job, so the execution visibly fills in; odd-1 fails the flaky job.
	for i := 1; i <= 3; i++ {
		startAgentEnv(t, s, fmt.Sprintf("lab-%d", i), fmt.Sprintf("KANADE_E2E_SLEEP=%d", i))
	}
	startAgentEnv(t, s, "odd-1", "KANADE_E2E_FAIL=1")
	tb := newTab(t, browser, s.URL())

	pcs := []string{"lab-1", "lab-2", "lab-3", "odd-1"}
	waitOnline(t, s, pcs...)
	for _, pc := range pcs[:3] {
		setGroups(t, s, pc, "lab")
	}
	applyJob(t, s, "slow", `sleep "${KANADE_E2E_SLEEP:-1}"; echo "slept ${KANADE_E2E_SLEEP:-1}s"`, "30s")
	applyJob(t, s, "flaky", `if [ -n "$KANADE_E2E_FAIL" ]; then echo "disk on fire" >&2; exit 3; fi; echo fine`, "30s")
	applySchedule(t, s, "id: nightly-lab\njob_id: slow\nwhen: {calendar: {at: \"03:00\"}}\ntarget: {groups: [lab]}\n")
	testutil.CheckFor(t, 15*time.Second, 100*time.Millisecond, func() error {
		var page store.Page[store.Agent]
		s.api(t, "GET", "/api/agents?group=lab", nil, &page)
		if page.Total != 3 {
			return fmt.Errorf("lab has %d members", page.Total)
		}
		return nil
	})

	t.Run("AgentListShowsOnlineAgents", func(t *testing.T) {
		tb.open(t, "/agents", "[data-testid=agent-row]")
		until(t, tb, browserWait, `[...document.querySelectorAll('[data-testid=agent-row]')].map(r => r.dataset.pc + '=' + r.dataset.status)`,
			func(rows []string) error {
				var want []string
				for _, pc := range pcs {
					want = append(want, pc+"=online")
				}
				slices.Sort(rows)
				if !slices.Equal(rows, want) {
					return fmt.Errorf("agent rows %v, want %v", rows, want)
				}
				return nil
			})
		tb.typeInto(t, "[data-testid=agents-search]", "odd")
		until(t, tb, browserWait, `[...document.querySelectorAll('[data-testid=agent-row]')].map(r => r.dataset.pc)`,
			func(rows []string) error {
				if !slices.Equal(rows, []string{"odd-1"}) {
					return fmt.Errorf("after searching 'odd' the rows are %v", rows)
				}
				return nil
			})
	})

	t.Run("JobTypoShownAtTheField", func(t *testing.T) {
		tb.open(t, "/jobs/new", "[data-testid=job-editor]")
		doc := "id: typo-job\nversion: \"1\"\nexecute:\n  shell: sh\n  timeout: 30s\n  scirpt: echo hi\n"
		tb.setText(t, "[data-testid=job-editor]", doc)
		tb.click(t, "[data-testid=job-save]")
		fieldErr := `[data-testid=job-errors] [data-testid=field-error][data-path="execute.scirpt"]`
		tb.waitVisible(t, fieldErr)
		if msg, _ := evalIn[string](tb, textOf(fieldErr)); !strings.Contains(msg, "line 6") {
			t.Errorf("the error at execute.scirpt reads %q; want it to point at line 6", msg)
		}
		line := until(t, tb, browserWait, `[...document.querySelectorAll('[data-testid=editor-error-line]')].map(l => l.dataset.line + ':' + l.textContent)`,
			func(lines []string) error {
				if !slices.Contains(lines, "6:  scirpt: echo hi") {
					return fmt.Errorf("highlighted editor lines %q, want line 6 (scirpt)", lines)
				}
				return nil
			})
		t.Logf("highlighted: %q", line)
		tb.shoot(t, shots, "job-editor-errors")
		if code := s.api(t, "GET", "/api/jobs/typo-job", nil, nil); code != http.StatusNotFound {
			t.Fatalf("the rejected job was stored: GET /api/jobs/typo-job = %d", code)
		}
	})

	var slowExec string
	t.Run("RunNowOnGroupFillsInLive", func(t *testing.T) {
		tb.open(t, "/jobs/slow", "[data-testid=run-button]")
		tb.click(t, "label:has([data-testid=run-target-groups])")
		tb.typeInto(t, "[data-testid=run-groups]", "lab")
		tb.typeInto(t, "[data-testid=run-deadline]", "10m")
		tb.click(t, "[data-testid=run-button]")
		loc := until(t, tb, browserWait, `location.pathname`, func(p string) error {
			if !strings.HasPrefix(p, "/executions/") {
				return fmt.Errorf("still at %s after Run", p)
			}
			return nil
		})
		slowExec = strings.TrimPrefix(loc, "/executions/")
		tb.waitVisible(t, "[data-testid=exec-progress]")
		progress := map[string]bool{}
		rowStates := map[string]bool{}
		until(t, tb, 30*time.Second, execViewJS, func(v execView) error {
			progress[v.Progress] = true
			for _, r := range v.Rows {
				rowStates[r[strings.Index(r, "=")+1:]] = true
			}
			slices.Sort(v.Rows)
			want := []string{"lab-1=success", "lab-2=success", "lab-3=success"}
			if v.Progress != "3/3" || !slices.Equal(v.Rows, want) || v.Status != "completed" {
				return fmt.Errorf("progress %q, status %q, rows %v", v.Progress, v.Status, v.Rows)
			}
			return nil
		})
		if !progress["1/3"] && !progress["2/3"] {
			t.Errorf("never saw the execution part-way (progress values seen: %v)", keys(progress))
		}
		if !rowStates["pending"] && !rowStates["running"] {
			t.Errorf("rows were never pending or running before success (states seen: %v)", keys(rowStates))
		}
		t.Logf("progress seen %v, row states seen %v", keys(progress), keys(rowStates))
	})

	t.Run("FailingPCShowsStderr", func(t *testing.T) {
		tb.open(t, "/jobs/flaky", "[data-testid=run-button]")
		tb.click(t, "label:has([data-testid=run-target-pcs])")
		tb.typeInto(t, "[data-testid=run-pcs]", "lab-1, odd-1")
		tb.click(t, "[data-testid=run-button]")
		until(t, tb, 30*time.Second, execViewJS, func(v execView) error {
			slices.Sort(v.Rows)
			want := []string{"lab-1=success", "odd-1=failure"}
			if v.Progress != "2/2" || !slices.Equal(v.Rows, want) || v.Status != "completed" {
				return fmt.Errorf("progress %q, status %q, rows %v", v.Progress, v.Status, v.Rows)
			}
			return nil
		})
		failed := `[data-testid=result-row][data-pc="odd-1"]`
		if exit := until(t, tb, browserWait, textOf(failed+" [data-testid=result-exit]"), func(string) error { return nil }); exit != "3" {
			t.Errorf("exit code shown for odd-1: %q, want 3", exit)
		}
		tb.click(t, failed+" [data-testid=result-toggle]")
		tb.waitVisible(t, "[data-testid=result-stderr]")
		until(t, tb, browserWait, textOf("[data-testid=result-stderr]"), func(s string) error {
			if !strings.Contains(s, "disk on fire") {
				return fmt.Errorf("stderr shown: %q", s)
			}
			return nil
		})
		tb.shoot(t, shots, "execution-failure")
	})

	t.Run("ScheduleToggleChangesTheAPI", func(t *testing.T) {
		toggle := `[data-testid=schedule-toggle][data-id="nightly-lab"]`
		apiEnabled := func(want bool) {
			t.Helper()
			testutil.CheckFor(t, browserWait, 100*time.Millisecond, func() error {
				var row map[string]any
				s.api(t, "GET", "/api/schedules/nightly-lab", nil, &row)
				if row["enabled"] != want {
					return fmt.Errorf("GET /api/schedules/nightly-lab: enabled=%v, want %v", row["enabled"], want)
				}
				return nil
			})
		}
		uiChecked := func(want bool) {
			t.Helper()
			until(t, tb, browserWait, fmt.Sprintf(`(() => { const el = document.querySelector(%s); return !!el && !el.disabled && el.checked; })()`, jsString(toggle)),
				func(on bool) error {
					if on != want {
						return fmt.Errorf("toggle shows enabled=%v, want %v", on, want)
					}
					return nil
				})
		}
		tb.open(t, "/schedules", "[data-testid=schedule-row]")
		apiEnabled(true)
		uiChecked(true)
		tb.click(t, "label:has("+toggle+")")
		apiEnabled(false)
		// A reload shows the stored state, not the optimistic one.
		tb.open(t, "/schedules", "[data-testid=schedule-row]")
		uiChecked(false)
		tb.click(t, "label:has("+toggle+")")
		apiEnabled(true)
		uiChecked(true)
	})

	t.Run("Screenshots", func(t *testing.T) {
		pages := []struct{ name, path, sel string }{
			{"overview", "/", "[data-testid=fleet-health]"},
			{"agents", "/agents", "[data-testid=agent-row]"},
			{"agent-detail", "/agents/lab-1", "[data-testid=agent-fields]"},
			{"jobs", "/jobs", "[data-testid=job-row]"},
			{"job-editor", "/jobs/slow", "[data-testid=job-editor]"},
			{"executions", "/executions", "[data-testid=execution-row]"},
			{"execution-detail", "/executions/" + slowExec, "[data-testid=result-row]"},
			{"schedules", "/schedules", "[data-testid=schedule-row]"},
			{"schedule-editor", "/schedules/nightly-lab", "[data-testid=schedule-editor]"},
			{"audit", "/audit", "[data-testid=audit-row]"},
		}
		for _, p := range pages {
			if p.name == "execution-detail" && slowExec == "" {
				t.Errorf("no execution to photograph (the Run now subtest failed)")
				continue
			}
			tb.open(t, p.path, p.sel)
			tb.shoot(t, shots, p.name)
		}
	})

	t.Run("UnknownManifestsSayNotFound", func(t *testing.T) {
		for _, kind := range []string{"job", "schedule"} {
			tb.open(t, "/"+kind+"s/no-such-"+kind, "[data-testid="+kind+"-not-found]")
		}
	})

	t.Run("PhoneMenuNavigates", func(t *testing.T) {
		phone := viewports[1]
		tb.do(t, "phone viewport", chromedp.EmulateViewport(phone.width, phone.height, phone.opts...))
		defer tb.do(t, "desktop viewport", chromedp.EmulateViewport(viewports[0].width, viewports[0].height))
		tb.open(t, "/", "[data-testid=nav-toggle]")
		tb.click(t, "[data-testid=nav-toggle]")
		tb.click(t, "[data-testid=nav-agents]")
		tb.waitVisible(t, "[data-testid=agent-row]")
		if p, _ := evalIn[string](tb, "location.pathname"); p != "/agents" {
			t.Fatalf("the phone menu led to %s, want /agents", p)
		}
	})

	// Token mode: a second server that demands a token, in its own tab
	// (its own origin, so its own localStorage).
	var login *tab
	t.Run("TokenModeShowsLogin", func(t *testing.T) {
		ts := startServer(t, "--auth-token", "secret")
		login = newTab(t, browser, ts.URL())
		login.open(t, "/agents", "[data-testid=login-form]")
		if p, _ := evalIn[string](login, `location.pathname + location.search`); p != "/login?next=%2Fagents" {
			t.Errorf("the app sent the user to %q, want /login?next=%%2Fagents", p)
		}
		login.shoot(t, shots, "login")
		login.typeInto(t, "[data-testid=login-token]", "wrong")
		login.click(t, "[data-testid=login-submit]")
		until(t, login, browserWait, textOf("[data-testid=login-error]"), func(s string) error {
			if !strings.Contains(s, "rejected") {
				return fmt.Errorf("login error shown: %q", s)
			}
			return nil
		})
		login.setText(t, "[data-testid=login-token]", "")
		login.typeInto(t, "[data-testid=login-token]", "secret")
		login.click(t, "[data-testid=login-submit]")
		login.waitVisible(t, "[data-testid=agents-empty]")
		until(t, login, browserWait, `location.pathname`, func(p string) error {
			if p != "/agents" {
				return fmt.Errorf("after signing in the page is %s, want /agents", p)
			}
			return nil
		})
		// Signed in stays signed in across a reload.
		login.open(t, "/", "[data-testid=fleet-health]")
		login.waitVisible(t, "[data-testid=logout]")
	})

	t.Run("NoRequestLeavesTheOriginAndNoPageErrors", func(t *testing.T) {
		for _, x := range []*tab{tb, login} {
			if x == nil {
				continue
			}
			n, foreign := x.foreignRequests()
			if n == 0 {
				t.Errorf("no request recorded for %s: the recorder is broken", x.origin)
			}
			if len(foreign) > 0 {
				t.Errorf("requests outside %s: %v", x.origin, foreign)
			} else {
				t.Logf("%s: %d requests, all same-origin", x.origin, n)
			}
			if p := x.pageProblems(); len(p) > 0 {
				t.Errorf("the page at %s reported errors: %q", x.origin, p)
			}
		}
	})

	t.Logf("browser test took %v; screenshots in %s", time.Since(start).Round(time.Second), shots)
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
