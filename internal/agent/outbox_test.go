package agent

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/bus/embedded"
	"github.com/kanade-dev/kanade/internal/testutil"
	"github.com/kanade-dev/kanade/internal/wire"
)

// stopBroker shuts b's server down and returns its address, so a new
// server can take over the same port and store dir.
func stopBroker(b *testutil.Broker) string {
	addr := b.Server.Addr().(*net.TCPAddr)
	b.Server.Shutdown()
	b.Server.WaitForShutdown()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(addr.Port))
}

func startBrokerAt(t *testing.T, listen, dir string) (*server.Server, jetstream.JetStream) {
	t.Helper()
	ns, err := embedded.Start(embedded.Options{Listen: listen, StoreDir: dir})
	if err != nil {
		t.Fatalf("restart broker: %v", err)
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close(); ns.Shutdown(); ns.WaitForShutdown() })
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return ns, js
}

func TestOutboxSurvivesBrokerOutage(t *testing.T) {
	b := testutil.RunJetStream(t)
	ag := startAgent(t, testConfig(t, b.URL, "pc1", t.TempDir()))
	waitReady(t, ag.a)
	c := newCommand("sleep 1; echo after-outage")
	publishCmd(t, b.JS, wire.SubjectCommandsPC("pc1"), c)
	waitStarted(t, b.JS, c.ExecID)

	b.NC.Close()
	b.NC = nil
	listen := stopBroker(b)
	testutil.CheckFor(t, wait, 50*time.Millisecond, func() error {
		if ag.a.PendingOutbox() == 0 {
			return errString("result not queued yet")
		}
		return nil
	})
	_, js := startBrokerAt(t, listen, b.Dir)
	r := waitResult(t, js, c.ExecID)
	if r.Stdout != "after-outage\n" {
		t.Fatalf("result = %+v", r)
	}
	testutil.CheckFor(t, wait, 50*time.Millisecond, func() error {
		if n := ag.a.PendingOutbox(); n != 0 {
			return errString("outbox not drained")
		}
		return nil
	})
	if n := len(streamMsgs(t, js, wire.StreamEvents, "events.started."+c.ExecID+".")); n != 1 {
		t.Fatalf("want 1 started event, got %d", n)
	}
}

func TestOutboxRedeliveredAfterAgentRestart(t *testing.T) {
	b := testutil.RunJetStream(t)
	dir := t.TempDir()
	ag := startAgent(t, testConfig(t, b.URL, "pc1", dir))
	waitReady(t, ag.a)
	c := newCommand("sleep 1; echo queued")
	publishCmd(t, b.JS, wire.SubjectCommandsPC("pc1"), c)
	waitStarted(t, b.JS, c.ExecID)
	b.NC.Close()
	b.NC = nil
	listen := stopBroker(b)
	testutil.CheckFor(t, wait, 50*time.Millisecond, func() error {
		if ag.a.PendingOutbox() == 0 {
			return errString("result not queued yet")
		}
		return nil
	})
	ag.stop()

	ents, _ := os.ReadDir(filepath.Join(dir, "outbox"))
	if len(ents) == 0 {
		t.Fatal("outbox empty after stop")
	}
	_, js := startBrokerAt(t, listen, b.Dir)
	again := startAgent(t, testConfig(t, "nats://"+listen, "pc1", dir))
	r := waitResult(t, js, c.ExecID)
	if r.Stdout != "queued\n" {
		t.Fatalf("result = %+v", r)
	}
	testutil.CheckFor(t, wait, 50*time.Millisecond, func() error {
		if again.a.PendingOutbox() != 0 {
			return errString("outbox not drained")
		}
		return nil
	})
}

func TestOutboxDuplicateIsDeduplicated(t *testing.T) {
	b := testutil.RunJetStream(t)
	dir := t.TempDir()
	ob, err := openOutbox(filepath.Join(dir, "outbox"), true)
	if err != nil {
		t.Fatal(err)
	}
	res := wire.ExecResult{ResultID: "r1", ExecID: "e1", PCID: "pc1"}
	data, _ := json.Marshal(res)
	e := outboxEntry{Subject: wire.SubjectResult("e1", "pc1"), MsgID: "r1", Data: data}
	// Simulate a publish whose ack was lost: in the stream and still queued.
	if _, err := b.JS.Publish(context.Background(), e.Subject, data, jetstream.WithMsgID("r1")); err != nil {
		t.Fatal(err)
	}
	if err := ob.Put(e); err != nil {
		t.Fatal(err)
	}
	ag := startAgent(t, testConfig(t, b.URL, "pc1", dir))
	testutil.CheckFor(t, wait, 50*time.Millisecond, func() error {
		if ag.a.PendingOutbox() != 0 {
			return errString("outbox not drained")
		}
		return nil
	})
	if n := len(results(t, b.JS, "e1")); n != 1 {
		t.Fatalf("want 1 result, got %d", n)
	}
}

func TestStartsWhileBrokerDown(t *testing.T) {
	b := testutil.RunJetStream(t)
	b.NC.Close()
	b.NC = nil
	listen := stopBroker(b)
	c := newCommand("echo late")
	ag := startAgent(t, testConfig(t, "nats://"+listen, "pc1", t.TempDir()))
	select {
	case <-ag.a.Ready():
		t.Fatal("ready without a broker")
	case <-time.After(500 * time.Millisecond):
	}
	_, js := startBrokerAt(t, listen, b.Dir)
	publishCmd(t, js, wire.SubjectCommandsAll, c)
	waitReady(t, ag.a)
	waitResult(t, js, c.ExecID)
}

func TestRestartDuringRunReportsLostAndResumesWaiting(t *testing.T) {
	b := testutil.RunJetStream(t)
	dir := t.TempDir()
	a, err := New(testConfig(t, b.URL, "pc1", dir))
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now().UTC()
	lost := marker{ResultID: "lost-1", AcceptedAt: started, StartedAt: &started, Command: newCommand("echo must-not-rerun")}
	waiting := marker{ResultID: "wait-1", AcceptedAt: started, Command: newCommand("echo resumed")}
	for _, m := range []*marker{&lost, &waiting} {
		if err := a.writeMarker(m); err != nil {
			t.Fatal(err)
		}
	}
	a.seen.Close()

	ag := startAgent(t, testConfig(t, b.URL, "pc1", dir))
	r := waitResult(t, b.JS, lost.Command.ExecID)
	if r.ResultID != "lost-1" || !r.Killed || r.Stdout != "" || !strings.Contains(r.Stderr, "not re-run") {
		t.Fatalf("lost result = %+v", r)
	}
	r = waitResult(t, b.JS, waiting.Command.ExecID)
	if r.ResultID != "wait-1" || r.Stdout != "resumed\n" {
		t.Fatalf("resumed result = %+v", r)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "runs"))
	if len(ents) != 0 {
		t.Fatalf("markers left: %v", ents)
	}
	_ = ag
}

type errString string

func (e errString) Error() string { return string(e) }
