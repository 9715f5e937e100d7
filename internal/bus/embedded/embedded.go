// Package embedded runs the in-process NATS server with JetStream that
// `kanade server` and `kanade dev` embed by default (SPEC §1).
//
// It is apart from package bus so that the client side (connections,
// stream and bucket definitions, KV mirrors) does not link nats-server:
// the agent imports bus, and the slim cmd/kanade-agent binary must stay
// free of the broker (see internal/cli/agentcmd's dependency test).
package embedded

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configures the in-process broker.
type Options struct {
	Listen   string // host:port for clients, e.g. 127.0.0.1:4222; port 0 picks one
	StoreDir string // JetStream data
	// MaxPayload raises the per-message cap; results carry up to 2 MiB of output.
	MaxPayload int32
}

// Start starts a NATS server with JetStream and waits until it accepts
// connections.
func Start(o Options) (*server.Server, error) {
	host, portStr, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("nats listen address %q: %w", o.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("nats listen port %q: %w", portStr, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	maxPayload := o.MaxPayload
	if maxPayload == 0 {
		maxPayload = 8 << 20
	}
	opts := &server.Options{
		ServerName: "kanade",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: maxPayload,
		// A fleet reconnecting after a restart arrives all at once.
		MaxConn: 1 << 20,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("create nats server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded nats server did not become ready within 30s")
	}
	return ns, nil
}
