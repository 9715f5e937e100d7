package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAPIErrorRendering(t *testing.T) {
	cases := []struct {
		name string
		err  APIError
		want string
	}{
		{"message only", APIError{Status: 404, Message: "job cleanup not found"}, "job cleanup not found"},
		{"no message", APIError{Status: 503}, "service unavailable"},
		{"fields one per line", APIError{Status: 400, Message: "invalid job", Fields: []FieldError{
			{Path: "execute.scirpt", Message: "unknown field"},
			{Path: "execute.timeout", Message: "required"},
		}}, "invalid job\n  execute.scirpt: unknown field\n  execute.timeout: required"},
		{"field without path", APIError{Status: 400, Message: "bad", Fields: []FieldError{{Message: "body is empty"}}},
			"bad\n  body is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestErrorDecoding(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		ctype      string
		body       string
		wantMsg    string
		wantFields int
	}{
		{"api json", 400, "application/json", `{"error":"invalid job","fields":[{"path":"id","message":"required"}]}`, "invalid job", 1},
		{"html from a proxy", 502, "text/html", "<html>\nbad gateway</html>", "bad gateway (HTTP 502): <html>", 0},
		{"empty body", 401, "", "", "unauthorized (HTTP 401)", 0},
		{"json without error key", 409, "application/json", `{"x":1}`, `conflict (HTTP 409): {"x":1}`, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.ctype != "" {
					w.Header().Set("Content-Type", tc.ctype)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			_, err := New(srv.URL, "").GetJob(context.Background(), "x")
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("want *APIError, got %T %v", err, err)
			}
			if ae.Status != tc.status || ae.Message != tc.wantMsg || len(ae.Fields) != tc.wantFields {
				t.Fatalf("got %+v", ae)
			}
		})
	}
}

func TestConnectionRefusedNamesServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close() // nothing listens there any more
	_, err = New(url, "").ListJobs(context.Background(), Paging{})
	if err == nil || !strings.Contains(err.Error(), "cannot reach kanade server at "+url) {
		t.Fatalf("got %v", err)
	}
}

func TestRequestsCarryTokenQueryAndBody(t *testing.T) {
	var got *http.Request
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		io.WriteString(w, `{"items":[],"total":0,"limit":10,"offset":0}`)
	}))
	defer srv.Close()
	c := New(srv.URL+"/", "s3cret")
	ctx := context.Background()

	if _, err := c.ListAgents(ctx, AgentFilter{Paging: Paging{Limit: 10}, Group: "canary", Status: "online"}); err != nil {
		t.Fatal(err)
	}
	if got.URL.Path != "/api/agents" || got.URL.RawQuery != "group=canary&limit=10&status=online" {
		t.Fatalf("url %s", got.URL)
	}
	if got.Header.Get("Authorization") != "Bearer s3cret" {
		t.Fatalf("auth header %q", got.Header.Get("Authorization"))
	}

	if _, err := c.ApplyJob(ctx, strings.NewReader("id: x\n"), "application/yaml"); err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodPost || got.Header.Get("Content-Type") != "application/yaml" || body != "id: x\n" {
		t.Fatalf("apply sent %s %q %q", got.Method, got.Header.Get("Content-Type"), body)
	}

	if _, err := c.SetAgentGroups(ctx, "pc-1", nil); err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodPut || got.URL.Path != "/api/agents/pc-1/groups" || body != `{"groups":[]}` {
		t.Fatalf("set groups sent %s %s %q", got.Method, got.URL.Path, body)
	}

	if err := c.RemoveAgentGroup(ctx, "pc-1", "office"); err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodDelete || got.URL.Path != "/api/agents/pc-1/groups/office" {
		t.Fatalf("rm group sent %s %s", got.Method, got.URL.Path)
	}
}

func TestReadEvents(t *testing.T) {
	stream := ": keepalive\n\n" +
		"event: execution\ndata: {\"a\":1}\n\n" +
		"event: result\nid: 7\ndata: line1\ndata: line2\n\n" +
		"data: unnamed\n\n" +
		"event: done\n\n" +
		"event: after\ndata: x\n\n"
	var got []Event
	err := ReadEvents(strings.NewReader(stream), func(e Event) error {
		got = append(got, e)
		if e.Name == "done" {
			return ErrStopStream
		}
		return nil
	})
	if !errors.Is(err, ErrStopStream) {
		t.Fatalf("err %v", err)
	}
	want := []Event{
		{Name: "execution", Data: []byte(`{"a":1}`)},
		{Name: "result", ID: "7", Data: []byte("line1\nline2")},
		{Name: "message", Data: []byte("unnamed")},
		{Name: "done"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d events: %+v", len(got), got)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].ID != want[i].ID || string(got[i].Data) != string(want[i].Data) {
			t.Errorf("event %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}
