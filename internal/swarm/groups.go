package swarm

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/bus"
	"github.com/kanade-dev/kanade/internal/ident"
	"github.com/kanade-dev/kanade/internal/wire"
)

// GroupShare puts a fraction of the fleet into a group.
type GroupShare struct {
	Name     string
	Fraction float64 // (0, 1]
}

// ParseGroups reads "canary:1%,office:50%" (a bare number is a fraction).
func ParseGroups(s string) ([]GroupShare, error) {
	var out []GroupShare
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, share, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("groups: %q: want name:percent", part)
		}
		if err := ident.Check("groups", name); err != nil {
			return nil, err
		}
		f, err := parseShare(share)
		if err != nil {
			return nil, fmt.Errorf("groups: %q: %w", part, err)
		}
		out = append(out, GroupShare{Name: name, Fraction: f})
	}
	return out, nil
}

func parseShare(s string) (float64, error) {
	pct := strings.HasSuffix(s, "%")
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		return 0, fmt.Errorf("share %q: not a number", s)
	}
	if pct {
		f /= 100
	}
	if f <= 0 || f > 1 {
		return 0, fmt.Errorf("share %q: want (0%%, 100%%]", s)
	}
	return f, nil
}

// Member reports whether fleet index i (of a fleet of any size) is in a
// group of the given fraction. Members are spread evenly over the index
// range, so any contiguous shard holds its share and a fleet of N holds
// floor(N*f) members.
func Member(i int, f float64) bool {
	return math.Floor(float64(i+1)*f) > math.Floor(float64(i)*f)
}

// GroupsOf lists the groups of fleet index i.
func GroupsOf(i int, shares []GroupShare) []string {
	var gs []string
	for _, g := range shares {
		if Member(i, g.Fraction) {
			gs = append(gs, g.Name)
		}
	}
	return gs
}

// WriteGroups records the membership of agents [first, first+n) in KV
// agent_groups, as an operator would with `kanade groups set`. Agents
// in no group get no key.
func WriteGroups(ctx context.Context, natsURL, prefix string, first, n int, shares []GroupShare) error {
	if len(shares) == 0 {
		return nil
	}
	nc, err := bus.Connect(natsURL, "kanade-swarm groups")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	kv, err := js.KeyValue(ctx, wire.BucketAgentGroups)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", wire.BucketAgentGroups, err)
	}
	return parallel(n, func(i int) error {
		gs := GroupsOf(first+i, shares)
		if len(gs) == 0 {
			return nil
		}
		data, _ := json.Marshal(wire.AgentGroups{Groups: gs})
		if _, err := kv.Put(ctx, PCID(prefix, first+i), data); err != nil {
			return fmt.Errorf("put groups of %s: %w", PCID(prefix, first+i), err)
		}
		return nil
	})
}
