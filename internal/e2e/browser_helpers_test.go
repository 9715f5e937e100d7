package e2e

// Helpers for the headless-browser tests in browser_test.go: one Chromium
// per test, one tab per server origin, every request of a tab recorded.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// screenshotDir is where the page screenshots go: test-artifacts/screenshots
// at the repository root (git-ignored; CI uploads it).
const screenshotDir = "test-artifacts/screenshots"

// browserWait bounds one wait for an element or a condition.
const browserWait = 20 * time.Second

// startBrowser launches headless Chromium with a fresh profile. A missing
// chromium is a failure, not a skip: CI installs it.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		for _, alt := range []string{"chromium-browser", "google-chrome"} {
			if p, err2 := exec.LookPath(alt); err2 == nil {
				path, err = p, nil
				break
			}
		}
	}
	if err != nil {
		t.Fatalf("the browser tests need Chromium and none is installed (%v); on Debian: apt-get install -y chromium", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(bctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("start chromium %s: %v", path, err)
	}
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	return bctx
}

// tab is one browser tab pointed at one kanade server.
type tab struct {
	ctx    context.Context
	origin string

	mu       sync.Mutex
	requests []string
	problems []string // uncaught exceptions and console errors other than HTTP statuses
}

// newTab opens a tab in the browser, records every request it makes and
// answers confirm() with yes (Kill and Delete ask).
func newTab(t *testing.T, browser context.Context, origin string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	tb := &tab{ctx: ctx, origin: origin}
	if err := chromedp.Listen(ctx, func(ev any) {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			if e.Request != nil {
				tb.requests = append(tb.requests, e.Request.URL)
			}
		case *runtime.EventExceptionThrown:
			if d := e.ExceptionDetails; d != nil {
				msg := d.Text
				if d.Exception != nil && d.Exception.Description != "" {
					msg += " " + d.Exception.Description
				}
				tb.problems = append(tb.problems, "exception: "+msg)
			}
		case *cdplog.EventEntryAdded:
			// Network entries are the HTTP statuses the flows provoke on
			// purpose (401 before login, 400 for a bad manifest).
			if e.Entry != nil && e.Entry.Level == cdplog.EntryLevelError && e.Entry.Source != cdplog.EntrySourceNetwork {
				tb.problems = append(tb.problems, fmt.Sprintf("console %s: %s", e.Entry.Source, e.Entry.Text))
			}
		}
	}); err != nil {
		t.Fatalf("listen: %v", err)
	}
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, tg, cdplog.Enable, cdp.Empty{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: "window.confirm = () => true;"})
		return err
	}))
	if err != nil {
		t.Fatalf("prepare tab: %v", err)
	}
	return tb
}

// foreignRequests lists the recorded requests that left the server's
// origin (data: and blob: URLs are local and allowed).
func (tb *tab) foreignRequests() (all int, foreign []string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, u := range tb.requests {
		switch {
		case u == tb.origin, strings.HasPrefix(u, tb.origin+"/"):
		case strings.HasPrefix(u, "data:"), strings.HasPrefix(u, "blob:"):
		default:
			foreign = append(foreign, u)
		}
	}
	return len(tb.requests), foreign
}

// pageProblems lists the uncaught exceptions and console errors seen.
func (tb *tab) pageProblems() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return slices.Clone(tb.problems)
}

// do runs actions with a bounded wait.
func (tb *tab) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v (page: %s)", what, err, tb.location())
	}
}

// open loads a dashboard path and waits until sel is visible.
func (tb *tab) open(t *testing.T, path, sel string) {
	t.Helper()
	tb.do(t, "open "+path, chromedp.Navigate(tb.origin+path), chromedp.WaitVisible(chromedp.CSS(sel)))
}

func (tb *tab) waitVisible(t *testing.T, sel string) {
	t.Helper()
	tb.do(t, "wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

func (tb *tab) click(t *testing.T, sel string) {
	t.Helper()
	tb.do(t, "click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

func (tb *tab) typeInto(t *testing.T, sel, text string) {
	t.Helper()
	tb.do(t, "type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// setText replaces the content of a textarea or input the way typing does
// (the app listens for input events).
func (tb *tab) setText(t *testing.T, sel, text string) {
	t.Helper()
	tb.waitVisible(t, sel)
	js := fmt.Sprintf(`(() => {
		const el = document.querySelector(%s);
		const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
		Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, %s);
		el.dispatchEvent(new Event('input', { bubbles: true }));
		return el.value.length;
	})()`, jsString(sel), jsString(text))
	if _, err := evalIn[int](tb, js); err != nil {
		t.Fatalf("set text of %s: %v", sel, err)
	}
}

func (tb *tab) location() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return loc
}

// evalIn evaluates a JavaScript expression in the tab.
func evalIn[T any](tb *tab, js string) (T, error) {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](js))
}

// until polls a JavaScript expression until check accepts its value.
func until[T any](t *testing.T, tb *tab, wait time.Duration, js string, check func(T) error) T {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		v, err := evalIn[T](tb, js)
		if err == nil {
			err = check(v)
		}
		if err == nil {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v (page: %s)", wait, err, tb.location())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// textOf is a JS expression for the trimmed text of the first match of
// sel, or "" when nothing matches.
func textOf(sel string) string {
	return fmt.Sprintf(`((document.querySelector(%s) || {}).textContent || '').trim()`, jsString(sel))
}

// repoRoot is the repository root (the tests run in internal/e2e).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

type viewport struct {
	name          string
	width, height int64
	opts          []chromedp.EmulateViewportOption
}

var viewports = []viewport{
	{name: "desktop", width: 1280, height: 800},
	{name: "phone", width: 390, height: 844, opts: []chromedp.EmulateViewportOption{chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch}},
}

// shoot takes a full-page screenshot of the current page at every
// viewport and leaves the tab at desktop size.
func (tb *tab) shoot(t *testing.T, dir, name string) {
	t.Helper()
	for _, vp := range viewports {
		tb.do(t, "viewport "+vp.name, chromedp.EmulateViewport(vp.width, vp.height, vp.opts...))
		// Let the layout settle at the new size (two frames).
		ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
		_, _ = chromedp.Run(ctx, chromedp.Evaluate[bool](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`, chromedp.EvalAwaitPromise))
		cancel()
		ctx, cancel = context.WithTimeout(tb.ctx, browserWait)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err != nil {
			t.Fatalf("screenshot %s %s: %v", name, vp.name, err)
		}
		file := filepath.Join(dir, fmt.Sprintf("%s-%s.png", name, vp.name))
		if err := os.WriteFile(file, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tb.do(t, "viewport desktop", chromedp.EmulateViewport(viewports[0].width, viewports[0].height, viewports[0].opts...))
}
