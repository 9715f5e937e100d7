package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/testutil"
	"github.com/kanade-dev/kanade/internal/wire"
)

const wait = 20 * time.Second

type running struct {
	a    *Agent
	stop func() // cancels Run and waits for it
}

func testConfig(t *testing.T, url, pc, dir string) Config {
	return Config{
		PCID: pc, NATSURL: url, DataDir: dir, Version: "test",
		Logger:        testLogger(),
		ShutdownGrace: 200 * time.Millisecond,
	}
}

func startAgent(t *testing.T, cfg Config) *running {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("new agent: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	r := &running{a: a, stop: func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(wait):
			t.Errorf("agent did not stop")
		}
	}}
	t.Cleanup(r.stop)
	return r
}

func waitReady(t *testing.T, a *Agent) {
	t.Helper()
	select {
	case <-a.Ready():
	case <-time.After(wait):
		t.Fatal("agent not ready")
	}
}

func newCommand(script string) wire.Command {
	return wire.Command{
		RequestID: uuid.NewString(), ExecID: uuid.NewString(), JobID: "job1", Version: "1",
		Shell: "sh", Script: script, TimeoutSecs: 30, IssuedAt: time.Now().UTC(), Actor: "test",
	}
}

// publishCmd goes through JetStream so EXEC keeps it for catch-up, as the
// backend does; live subscribers see it too.
func publishCmd(t *testing.T, js jetstream.JetStream, subject string, c wire.Command) {
	t.Helper()
	data, _ := json.Marshal(c)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, subject, data); err != nil {
		t.Fatalf("publish %s: %v", subject, err)
	}
}

// streamMsgs reads every message of stream whose subject matches prefix.
func streamMsgs(t *testing.T, js jetstream.JetStream, stream, prefix string) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	var out [][]byte
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("get msg %d: %v", seq, err)
		}
		if len(m.Subject) >= len(prefix) && m.Subject[:len(prefix)] == prefix {
			out = append(out, m.Data)
		}
	}
	return out
}

func results(t *testing.T, js jetstream.JetStream, execID string) []wire.ExecResult {
	t.Helper()
	var out []wire.ExecResult
	for _, d := range streamMsgs(t, js, wire.StreamResults, "results."+execID+".") {
		var r wire.ExecResult
		if err := json.Unmarshal(d, &r); err != nil {
			t.Fatalf("decode result: %v", err)
		}
		out = append(out, r)
	}
	return out
}

// waitResult waits for exactly one result and checks none follows soon.
func waitResult(t *testing.T, js jetstream.JetStream, execID string) wire.ExecResult {
	t.Helper()
	testutil.CheckFor(t, wait, 50*time.Millisecond, func() error {
		if n := len(results(t, js, execID)); n == 0 {
			return fmt.Errorf("no result for %s", execID)
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond)
	rs := results(t, js, execID)
	if len(rs) != 1 {
		t.Fatalf("want exactly 1 result for %s, got %d: %+v", execID, len(rs), rs)
	}
	return rs[0]
}

func waitStarted(t *testing.T, js jetstream.JetStream, execID string) {
	t.Helper()
	testutil.CheckFor(t, wait, 50*time.Millisecond, func() error {
		if len(streamMsgs(t, js, wire.StreamEvents, "events.started."+execID+".")) == 0 {
			return errors.New("no started event")
		}
		return nil
	})
}

func putGroups(t *testing.T, js jetstream.JetStream, pc string, raw string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, wire.BucketAgentGroups)
	if err != nil {
		t.Fatalf("kv: %v", err)
	}
	if raw == "" {
		if err := kv.Delete(ctx, pc); err != nil {
			t.Fatalf("kv delete: %v", err)
		}
		return
	}
	if _, err := kv.Put(ctx, pc, []byte(raw)); err != nil {
		t.Fatalf("kv put: %v", err)
	}
}

func publishKill(t *testing.T, nc *nats.Conn, execID string) {
	t.Helper()
	if err := nc.Publish(wire.SubjectKill(execID), nil); err != nil {
		t.Fatalf("publish kill: %v", err)
	}
	_ = nc.Flush()
}

// testLogger is silent unless KANADE_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("KANADE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
