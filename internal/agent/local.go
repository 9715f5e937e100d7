package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/agent/localsched"
	"github.com/kanade-dev/kanade/internal/wire"
)

// Agent-side schedules (`runs_on: agent`, SPEC §5). The ticker gets no
// JetStream handle, so it opens no KV watch (an ordered consumer per
// agent); the agent feeds it from core subscriptions on the buckets'
// $KV subjects and a listing on every (re)connect, as it does for groups.
const (
	kvSchedulesAll = "$KV." + wire.BucketSchedules + ".>"
	kvJobsAll      = "$KV." + wire.BucketJobs + ".>"
	// localListRounds bounds relisting when live changes keep arriving
	// during a listing; the live path has applied them anyway.
	localListRounds = 3
)

func (a *Agent) newLocal() error {
	if a.cfg.NoLocalSchedules {
		return nil
	}
	t, err := localsched.New(localsched.Config{
		PCID: a.cfg.PCID, DataDir: a.cfg.DataDir, Groups: a.currentGroups, Run: a.runLocal,
		Clock: a.cfg.localClock, Poll: a.cfg.localPoll, Log: a.log,
	})
	if err != nil {
		return fmt.Errorf("local schedules: %w", err)
	}
	a.local = t
	return nil
}

// runLocal takes a locally fired command down the normal path (seen
// check, deadline, jitter, started event, outbox).
func (a *Agent) runLocal(c wire.Command) {
	data, err := json.Marshal(c)
	if err != nil {
		a.log.Error("encode local command", "err", err)
		return
	}
	a.handleCommand(data, "local")
}

// applyLocalMsg applies a live change of the schedules or jobs bucket.
func (a *Agent) applyLocalMsg(m *nats.Msg) {
	if a.local == nil {
		return
	}
	bucket, key, ok := strings.Cut(strings.TrimPrefix(m.Subject, "$KV."), ".")
	if !ok {
		return
	}
	op := m.Header.Get("KV-Operation")
	deleted := op == "DEL" || op == "PURGE"
	a.localGen.Add(1)
	a.local.Apply(bucket, key, m.Data, deleted)
	if bucket == wire.BucketSchedules && !deleted {
		// The schedule may name a job this agent never fetched.
		a.localJobs.Store(true)
		a.requestSync(false)
	}
}

// syncLocal lists the buckets after a (re)connect and fetches jobs that
// live schedule changes named.
func (a *Agent) syncLocal(ctx context.Context) error {
	if a.local == nil {
		return nil
	}
	if a.localFull.Swap(false) {
		if err := a.listLocal(ctx); err != nil {
			a.localFull.Store(true)
			return err
		}
	}
	if a.localJobs.Swap(false) {
		jobs, err := a.readKeys(ctx, &a.jobsKV, wire.BucketJobs, a.local.MissingJobs())
		if err != nil {
			a.localJobs.Store(true)
			return err
		}
		for id, v := range jobs {
			a.local.Apply(wire.BucketJobs, id, v, false)
		}
	}
	return nil
}

// listLocal replaces the ticker's cache with the buckets' content: every
// schedule, and only the jobs those schedules use (a fleet of agents
// must not each read the whole catalog).
func (a *Agent) listLocal(ctx context.Context) error {
	for range localListRounds {
		gen := a.localGen.Load()
		keys, err := a.bucketKeys(ctx, wire.BucketSchedules)
		if err != nil {
			return err
		}
		scheds, err := a.readKeys(ctx, &a.schedKV, wire.BucketSchedules, keys)
		if err != nil {
			return err
		}
		a.local.Replace(wire.BucketSchedules, scheds)
		jobs, err := a.readKeys(ctx, &a.jobsKV, wire.BucketJobs, a.local.UsedJobs())
		if err != nil {
			return err
		}
		a.local.Replace(wire.BucketJobs, jobs)
		if a.localGen.Load() == gen {
			return nil
		}
	}
	return nil
}

// bucketKeys lists a bucket's keys from its stream's per-subject state,
// one request and no consumer (kv.Keys would open a watch). Deleted keys
// are still listed; the reads skip them.
func (a *Agent) bucketKeys(ctx context.Context, bucket string) ([]string, error) {
	prefix := "$KV." + bucket + "."
	info, err := withTimeout(ctx, func(c context.Context) (*jetstream.StreamInfo, error) {
		s, err := a.js.Stream(c, "KV_"+bucket)
		if err != nil {
			return nil, err
		}
		return s.Info(c, jetstream.WithSubjectFilter(prefix+">"))
	})
	if err != nil {
		return nil, fmt.Errorf("list bucket %s: %w", bucket, err)
	}
	keys := make([]string, 0, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		keys = append(keys, strings.TrimPrefix(subj, prefix))
	}
	return keys, nil
}

// readKeys gets the current values of keys; missing or deleted keys are
// left out.
func (a *Agent) readKeys(ctx context.Context, kvp *jetstream.KeyValue, bucket string, keys []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	if len(keys) == 0 {
		return out, nil
	}
	if *kvp == nil {
		kv, err := withTimeout(ctx, func(c context.Context) (jetstream.KeyValue, error) {
			return a.js.KeyValue(c, bucket)
		})
		if err != nil {
			return nil, fmt.Errorf("open bucket %s: %w", bucket, err)
		}
		*kvp = kv
	}
	for _, k := range keys {
		e, err := withTimeout(ctx, func(c context.Context) (jetstream.KeyValueEntry, error) {
			return (*kvp).Get(c, k)
		})
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return nil, fmt.Errorf("read %s/%s: %w", bucket, k, err)
		default:
			out[k] = e.Value()
		}
	}
	return out, nil
}
