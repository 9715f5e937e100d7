// Package testutil starts real parts for tests: an in-process NATS server
// with JetStream and a polling helper, so tests wait on conditions instead
// of sleeping.
package testutil

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/bus"
	"github.com/kanade-dev/kanade/internal/bus/embedded"
)

// Broker is a running embedded NATS server with kanade's resources.
type Broker struct {
	Server *server.Server
	URL    string
	NC     *nats.Conn
	JS     jetstream.JetStream
	Dir    string
}

// RunJetStream starts a real NATS server with JetStream on a random
// loopback port, creates every stream and bucket, and stops it at cleanup.
func RunJetStream(t testing.TB) *Broker {
	t.Helper()
	dir := t.TempDir()
	ns, err := embedded.Start(embedded.Options{Listen: "127.0.0.1:0", StoreDir: dir})
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	b := &Broker{Server: ns, URL: ns.ClientURL(), Dir: dir}
	t.Cleanup(func() {
		if b.NC != nil {
			b.NC.Close()
		}
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	b.NC, err = nats.Connect(b.URL)
	if err != nil {
		t.Fatalf("connect nats: %v", err)
	}
	b.JS, err = jetstream.New(b.NC)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.Ensure(ctx, b.JS, bus.Config{}); err != nil {
		t.Fatalf("ensure resources: %v", err)
	}
	return b
}

// CheckFor calls fn every `every` until it returns nil or `wait` passes,
// then fails the test with fn's last error.
func CheckFor(t testing.TB, wait, every time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", wait, err)
		}
		time.Sleep(every)
	}
}
