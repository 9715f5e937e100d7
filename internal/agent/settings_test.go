package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/scheduler/clock"
	"github.com/kanade-dev/kanade/internal/testutil"
	"github.com/kanade-dev/kanade/internal/wire"
)

func kvPut(t *testing.T, js jetstream.JetStream, bucket, key string, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	data, ok := v.([]byte)
	if !ok {
		data, _ = json.Marshal(v)
	}
	if _, err := kv.Put(ctx, key, data); err != nil {
		t.Fatal(err)
	}
}

func kvDelete(t *testing.T, js jetstream.JetStream, bucket, key string) {
	t.Helper()
	kv, err := js.KeyValue(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(context.Background(), key); err != nil {
		t.Fatal(err)
	}
}

func waitSettings(t *testing.T, a *Agent, want func(settings) bool) {
	t.Helper()
	testutil.CheckFor(t, wait, 20*time.Millisecond, func() error {
		if s := a.currentSettings(); !want(s) {
			return fmt.Errorf("settings %+v", s)
		}
		return nil
	})
}

func TestLayeredConfigLiveAndCached(t *testing.T) {
	b := testutil.RunJetStream(t)
	dir := t.TempDir()
	kvPut(t, b.JS, wire.BucketAgentConfig, "global", []byte(`{"concurrency":3,"output_cap":4096}`))
	putGroups(t, b.JS, "pc1", `{"groups":["lab"]}`)
	cfg := testConfig(t, b.URL, "pc1", dir)
	cfg.OutputCap = 2048 // pinned, as an explicit --output-cap would be
	ag := startAgent(t, cfg)
	waitReady(t, ag.a)
	waitSettings(t, ag.a, func(s settings) bool { return s.concurrency == 3 && s.outputCap == 2048 })

	// Group layer, then pc layer over it; both live.
	kvPut(t, b.JS, wire.BucketAgentConfig, "group.lab", []byte(`{"concurrency":7,"inventory_interval":"2h"}`))
	waitSettings(t, ag.a, func(s settings) bool { return s.concurrency == 7 && s.inventory == 2*time.Hour })
	kvPut(t, b.JS, wire.BucketAgentConfig, "pc.pc1", []byte(`{"heartbeat_interval":"1s"}`))
	waitSettings(t, ag.a, func(s settings) bool { return s.heartbeat == time.Second })

	// The retimed ticker beats about every second (default is 30s).
	sub, err := b.NC.SubscribeSync(wire.SubjectHeartbeat("pc1"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := sub.NextMsg(5 * time.Second); err != nil {
			t.Fatalf("heartbeat %d after retime: %v", i, err)
		}
	}

	// A corrupt value keeps the previous layer; leaving the group drops its layer.
	kvPut(t, b.JS, wire.BucketAgentConfig, "global", []byte(`{"concurrency":"lots"}`))
	putGroups(t, b.JS, "pc1", `{"groups":["lab","night"]}`)
	kvPut(t, b.JS, wire.BucketAgentConfig, "group.night", []byte(`{"concurrency":9}`))
	waitSettings(t, ag.a, func(s settings) bool { return s.concurrency == 9 })
	kvDelete(t, b.JS, wire.BucketAgentConfig, "group.night")
	waitSettings(t, ag.a, func(s settings) bool { return s.concurrency == 7 })

	// A restart while the broker is down keeps groups and layers.
	ag.stop()
	b.NC.Close()
	b.NC = nil
	stopBroker(b)
	ag2 := startAgent(t, testConfig(t, b.URL, "pc1", dir))
	waitSettings(t, ag2.a, func(s settings) bool {
		return s.concurrency == 7 && s.heartbeat == time.Second && s.outputCap == 4096
	})
	if g := ag2.a.currentGroups(); !slices.Contains(g, "lab") || !slices.Contains(g, "night") {
		t.Fatalf("groups after offline restart: %v", g)
	}
}

func TestPinnedSettingsWinOverKV(t *testing.T) {
	p := pins{heartbeat: 5 * time.Second, concurrency: 2}
	s := p.effective("pc1", nil, nil)
	if s.heartbeat != 5*time.Second || s.concurrency != 2 || s.outputCap != 1<<20 || s.inventory != 24*time.Hour {
		t.Fatalf("effective %+v", s)
	}
}

func TestLimiterFollowsLimitChanges(t *testing.T) {
	l := newLimiter(1)
	never := make(chan struct{})
	if ok, _ := l.acquire(never, never); !ok {
		t.Fatal("first slot")
	}
	got := make(chan bool)
	go func() { ok, _ := l.acquire(never, never); got <- ok }()
	select {
	case <-got:
		t.Fatal("second slot granted over the limit")
	case <-time.After(50 * time.Millisecond):
	}
	l.setLimit(2)
	if !<-got {
		t.Fatal("raised limit did not admit the waiter")
	}
	kill := make(chan struct{})
	close(kill)
	if ok, killed := l.acquire(kill, never); ok || !killed {
		t.Fatalf("kill while full: ok=%v killed=%v", ok, killed)
	}
	l.release()
	l.release()
}

func TestInventoryPublishedAtStart(t *testing.T) {
	b := testutil.RunJetStream(t)
	cfg := testConfig(t, b.URL, "pc1", t.TempDir())
	cfg.Inventory = func(context.Context) (map[string]any, error) {
		return map[string]any{"os": map[string]any{"name": "simulated"}}, nil
	}
	startAgent(t, cfg)
	testutil.CheckFor(t, wait, 50*time.Millisecond, func() error {
		msgs := streamMsgs(t, b.JS, wire.StreamInventory, wire.SubjectInventory("pc1"))
		if len(msgs) == 0 {
			return errors.New("no inventory yet")
		}
		var inv wire.Inventory
		if err := json.Unmarshal(msgs[0], &inv); err != nil {
			return err
		}
		if inv.PCID != "pc1" || inv.CollectedAt.IsZero() || inv.Facts["os"] == nil {
			return fmt.Errorf("inventory %+v", inv)
		}
		return nil
	})
}

func TestNoInventoryPublishesNothing(t *testing.T) {
	b := testutil.RunJetStream(t)
	cfg := testConfig(t, b.URL, "pc1", t.TempDir())
	cfg.NoInventory, cfg.NoLocalSchedules = true, true
	ag := startAgent(t, cfg)
	waitReady(t, ag.a)
	time.Sleep(300 * time.Millisecond)
	if n := len(streamMsgs(t, b.JS, wire.StreamInventory, "inventory.")); n != 0 {
		t.Fatalf("%d inventories published", n)
	}
	if ag.a.local != nil {
		t.Fatal("local schedules running despite NoLocalSchedules")
	}
}

// recorder is an in-process executor that remembers what ran.
type recorder struct {
	mu   sync.Mutex
	runs []Job
}

func (r *recorder) Execute(_ context.Context, j Job) Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs = append(r.runs, j)
	return Outcome{Stdout: "ok\n"}
}

func (r *recorder) execIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for _, j := range r.runs {
		ids = append(ids, j.ExecID)
	}
	return ids
}

// stepLocal moves the fake clock once the ticker is parked on it, then
// waits until want commands have run.
func stepLocal(t *testing.T, clk *clock.Fake, rec *recorder, at time.Time, want int) {
	t.Helper()
	parked := func() error {
		if clk.Waiters() != 1 {
			return errors.New("ticker not parked")
		}
		return nil
	}
	testutil.CheckFor(t, wait, 5*time.Millisecond, parked)
	clk.Set(at)
	testutil.CheckFor(t, wait, 5*time.Millisecond, func() error {
		if n := len(rec.execIDs()); n != want {
			return fmt.Errorf("%d runs, want %d", n, want)
		}
		return nil
	})
	testutil.CheckFor(t, wait, 5*time.Millisecond, parked)
}

func TestAgentScheduleFiresWhileBrokerDown(t *testing.T) {
	b := testutil.RunJetStream(t)
	kvPut(t, b.JS, wire.BucketJobs, "j", manifest.Job{ID: "j", Version: "1", Execute: manifest.Execute{
		Shell: "sh", Script: "true", Timeout: manifest.Duration(time.Minute)}})
	s, err := manifest.DecodeSchedule([]byte("id: s\njob_id: j\nwhen: {per_pc: {every: 1h}}\ntarget: {groups: [lab]}\nruns_on: agent\n"))
	if err != nil {
		t.Fatal(err)
	}
	kvPut(t, b.JS, wire.BucketSchedules, "s", s)
	putGroups(t, b.JS, "pc1", `{"groups":["lab"]}`)

	// The fake clock starts at real time: completions carry real finish
	// times, which the cooldown compares against the ticker's clock.
	t0 := time.Now().UTC().Truncate(time.Minute).Add(30 * time.Second)
	clk := clock.NewFake(t0)
	rec := &recorder{}
	cfg := testConfig(t, b.URL, "pc1", t.TempDir())
	cfg.Executor, cfg.localClock = rec, clk
	ag := startAgent(t, cfg)
	waitReady(t, ag.a)
	testutil.CheckFor(t, wait, 20*time.Millisecond, func() error {
		if !slices.Equal(ag.a.local.Schedules(), []string{"s"}) || len(ag.a.local.MissingJobs()) != 0 {
			return errors.New("schedule or job not mirrored yet")
		}
		return nil
	})

	stepLocal(t, clk, rec, t0.Add(time.Minute), 1)
	waitResult(t, b.JS, rec.execIDs()[0])
	stepLocal(t, clk, rec, t0.Add(2*time.Minute), 1) // cooling down

	b.NC.Close()
	b.NC = nil
	listen := stopBroker(b)
	stepLocal(t, clk, rec, t0.Add(2*time.Minute+time.Hour), 2)
	stepLocal(t, clk, rec, t0.Add(3*time.Minute+2*time.Hour), 3)
	if ag.a.PendingOutbox() == 0 {
		t.Fatal("results of offline runs not queued")
	}

	_, js := startBrokerAt(t, listen, b.Dir)
	for _, id := range rec.execIDs() {
		r := waitResult(t, js, id)
		if r.PCID != "pc1" || r.JobID != "j" || r.ExitCode != 0 {
			t.Fatalf("result %+v", r)
		}
	}
	if n := len(streamMsgs(t, js, wire.StreamResults, "results.")); n != 3 {
		t.Fatalf("want 3 results in RESULTS, got %d", n)
	}
}
