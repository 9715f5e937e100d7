package cli

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const waitExecAnswer = `{"exec_id":"e1","job_id":"cleanup","version":"1.0","target_count":3,"subjects":["commands.all"]}`

func resultJSON(pc, status string, exit int, stderr string) string {
	return fmt.Sprintf(`{"result_id":"r-%s","exec_id":"e1","pc_id":"%s","status":"%s","exit_code":%d,"stderr":%q,`+
		`"started_at":"2026-12-03T09:00:00Z","finished_at":"2026-12-03T09:00:02Z"}`, pc, pc, status, exit, stderr)
}

func execJSON(status string, ok, failed int) string {
	return fmt.Sprintf(`{"exec_id":"e1","job_id":"cleanup","version":"1.0","target_count":3,"succeeded":%d,"failed":%d,"status":"%s"}`,
		ok, failed, status)
}

// sseServer streams the given connections' events, one slice per
// connection, flushing between events as the real server does.
func sseServer(t *testing.T, conns [][]string, detail string) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method + " " + r.URL.Path {
		case "POST /api/exec/cleanup":
			fmt.Fprint(w, waitExecAnswer)
		case "GET /api/executions/e1":
			fmt.Fprint(w, detail)
		case "GET /api/executions/e1/stream":
			i := int(n.Add(1)) - 1
			if i >= len(conns) {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			for _, ev := range conns[i] {
				fmt.Fprint(w, ev)
				w.(http.Flusher).Flush()
				time.Sleep(5 * time.Millisecond)
			}
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func ev(name, data string) string { return "event: " + name + "\ndata: " + data + "\n\n" }

func TestExecWaitStreamsBarSummaryAndFails(t *testing.T) {
	stream := []string{
		": hello\n\n",
		ev("execution", execJSON("running", 0, 0)),
		ev("result", `{"exec_id":"e1","pc_id":"pc-c","status":"pending"}`),
		ev("result", resultJSON("pc-a", "success", 0, "")),
		ev("execution", execJSON("running", 1, 0)),
		ev("result", resultJSON("pc-b", "failure", 2, "disk full\nmore")),
		ev("result", resultJSON("pc-c", "success", 0, "")),
		ev("execution", execJSON("completed", 2, 1)),
		"event: done\ndata: {}\n\n",
	}
	detail := `{"execution":` + execJSON("completed", 2, 1) + `,"results":[` +
		resultJSON("pc-a", "success", 0, "") + "," + resultJSON("pc-b", "failure", 2, "disk full\nmore") + "," +
		resultJSON("pc-c", "success", 0, "") + `]}`
	srv, _ := sseServer(t, [][]string{stream}, detail)

	out, errOut, err := runCLI(t, srv.URL, "", "exec", "cleanup", "--all", "--wait")
	var ee exitError
	if !asExit(err, &ee) || ee.code != 1 {
		t.Fatalf("err %v, want exit 1", err)
	}
	if !strings.Contains(errOut, "3/3") || !strings.Contains(errOut, "1 failed") {
		t.Fatalf("progress bar did not complete with failures:\n%q", errOut)
	}
	for _, want := range []string{
		"pc-a  success  0     2s        -",
		"pc-b  failure  2     2s        disk full",
		"2 succeeded, 1 failed, 0 skipped, 0 lost, 0 running of 3 targeted (completed)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestExecWaitAllSucceededExitsZero(t *testing.T) {
	stream := []string{
		ev("result", resultJSON("pc-a", "success", 0, "")),
		ev("result", resultJSON("pc-b", "success", 0, "")),
		ev("result", resultJSON("pc-c", "skipped", 0, "")),
		ev("execution", execJSON("completed", 3, 0)),
		"event: done\n\n",
	}
	detail := `{"execution":` + execJSON("completed", 3, 0) + `,"results":[]}`
	srv, _ := sseServer(t, [][]string{stream}, detail)
	_, errOut, err := runCLI(t, srv.URL, "", "exec", "cleanup", "--all", "--wait")
	if err != nil {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(errOut, "3/3") {
		t.Fatalf("bar: %q", errOut)
	}
}

func TestExecWaitReconnectsWhenStreamDrops(t *testing.T) {
	old := streamBackoff
	streamBackoff = 0
	t.Cleanup(func() { streamBackoff = old })
	first := []string{
		ev("execution", execJSON("running", 0, 0)),
		ev("result", resultJSON("pc-a", "success", 0, "")),
	} // ends without "done": a proxy cut it
	second := []string{
		ev("result", resultJSON("pc-a", "success", 0, "")),
		ev("result", resultJSON("pc-b", "success", 0, "")),
		ev("result", resultJSON("pc-c", "success", 0, "")),
		ev("execution", execJSON("completed", 3, 0)),
		"event: done\ndata: {}\n\n",
	}
	detail := `{"execution":` + execJSON("completed", 3, 0) + `,"results":[]}`
	srv, conns := sseServer(t, [][]string{first, second}, detail)
	_, errOut, err := runCLI(t, srv.URL, "", "exec", "cleanup", "--all", "--wait", "-o", "json")
	if err != nil {
		t.Fatalf("err %v", err)
	}
	if conns.Load() != 2 {
		t.Fatalf("stream connections %d, want 2", conns.Load())
	}
	if !strings.Contains(errOut, "3/3") {
		t.Fatalf("bar: %q", errOut)
	}
}

func TestExecWaitGivesUpOnServerError(t *testing.T) {
	srv, _ := sseServer(t, nil, `{}`)
	_, _, err := runCLI(t, srv.URL, "", "exec", "cleanup", "--all", "--wait")
	if err == nil || !strings.Contains(err.Error(), "internal server error") {
		t.Fatalf("err %v", err)
	}
}
