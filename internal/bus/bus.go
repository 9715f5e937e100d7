// Package bus is the client side of the broker: connections, the streams
// and KV buckets of SPEC §3.5, and KV mirrors. The embedded NATS server
// lives in bus/embedded, so that importing bus (as the agent does) does
// not link nats-server.
package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/wire"
)

// Connect dials url (a comma-separated list is fine) and keeps retrying
// forever: agents and servers must survive broker restarts.
func Connect(url, name string, extra ...nats.Option) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.ReconnectJitter(500*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectBufSize(16 << 20),
	}
	nc, err := nats.Connect(url, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats %q: %w", url, err)
	}
	return nc, nil
}

// Config sizes the broker resources.
type Config struct {
	Replicas         int           // 1 embedded, 3 for a production cluster
	ResultsMaxAge    time.Duration // default 30 days
	ResultsMaxBytes  int64         // default 10 GiB
	InventoryPerPC   int64         // newest N per subject, default 5
	DispatchMarkTTL  time.Duration // default 1h
	LeaseTTL         time.Duration // default 15s
	DuplicatesWindow time.Duration // default 1h
}

func (c Config) withDefaults() Config {
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.ResultsMaxAge <= 0 {
		c.ResultsMaxAge = 30 * 24 * time.Hour
	}
	if c.ResultsMaxBytes <= 0 {
		c.ResultsMaxBytes = 10 << 30
	}
	if c.InventoryPerPC <= 0 {
		c.InventoryPerPC = 5
	}
	if c.DispatchMarkTTL <= 0 {
		c.DispatchMarkTTL = time.Hour
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 15 * time.Second
	}
	if c.DuplicatesWindow <= 0 {
		c.DuplicatesWindow = time.Hour
	}
	return c
}

// Streams returns the stream configurations of SPEC §3.5.
func Streams(c Config) []jetstream.StreamConfig {
	c = c.withDefaults()
	day := 24 * time.Hour
	return []jetstream.StreamConfig{
		{
			Name: wire.StreamExec, Subjects: []string{wire.SubjectCommandsAny},
			MaxMsgsPerSubject: 1, MaxAge: 7 * day, Replicas: c.Replicas,
			Duplicates: 2 * time.Minute,
		},
		{
			Name: wire.StreamResults, Subjects: []string{wire.SubjectResultsAny},
			MaxAge: c.ResultsMaxAge, MaxBytes: c.ResultsMaxBytes, Replicas: c.Replicas,
			Duplicates: c.DuplicatesWindow,
		},
		{
			Name: wire.StreamEvents, Subjects: []string{wire.SubjectEventsAny},
			MaxAge: 7 * day, Replicas: c.Replicas, Duplicates: c.DuplicatesWindow,
		},
		{
			Name: wire.StreamAudit, Subjects: []string{wire.SubjectAuditAny},
			MaxAge: 365 * day, Replicas: c.Replicas,
		},
		{
			Name: wire.StreamInventory, Subjects: []string{wire.SubjectInvAny},
			MaxMsgsPerSubject: c.InventoryPerPC, Replicas: c.Replicas,
		},
	}
}

// Buckets returns the KV configurations of SPEC §3.5 plus the scheduler
// lease and the durable rollout timers.
func Buckets(c Config) []jetstream.KeyValueConfig {
	c = c.withDefaults()
	return []jetstream.KeyValueConfig{
		{Bucket: wire.BucketJobs, History: 5, Replicas: c.Replicas},
		{Bucket: wire.BucketSchedules, History: 5, Replicas: c.Replicas},
		{Bucket: wire.BucketAgentGroups, History: 1, Replicas: c.Replicas},
		{Bucket: wire.BucketAgentConfig, History: 1, Replicas: c.Replicas},
		{Bucket: wire.BucketDispatch, History: 1, TTL: c.DispatchMarkTTL, Replicas: c.Replicas},
		{Bucket: wire.BucketLease, History: 1, TTL: c.LeaseTTL, Replicas: c.Replicas},
		{Bucket: wire.BucketRollouts, History: 1, Replicas: c.Replicas},
	}
}

// Ensure creates or updates every stream and bucket. It is idempotent and
// safe to run from several servers at once.
func Ensure(ctx context.Context, js jetstream.JetStream, c Config) error {
	for _, sc := range Streams(c) {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("ensure stream %s: %w", sc.Name, err)
		}
	}
	for _, kc := range Buckets(c) {
		if _, err := js.CreateOrUpdateKeyValue(ctx, kc); err != nil {
			return fmt.Errorf("ensure bucket %s: %w", kc.Bucket, err)
		}
	}
	return nil
}
