package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/loop"
	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/wire"
)

// A rollout's progress lives in KV rollouts (key = exec_id), not in memory,
// so a restarted or a second server carries on where the first stopped.
// Each wave's request id is derived from the exec id and the wave number:
// a wave published twice around a crash is the same Command and agents
// run it once.
type rolloutState struct {
	Command   wire.Command    `json:"command"`
	Waves     []manifest.Wave `json:"waves"`
	StartedAt time.Time       `json:"started_at"`
	Next      int             `json:"next"`
	// Reached[i] is how many PCs wave i addressed when it was published;
	// min_success of a later wave is measured against their sum.
	Reached []int  `json:"reached"`
	Halted  string `json:"halted,omitempty"`
}

func (f *Fanout) startRollout(ctx context.Context, cmd wire.Command, r *manifest.Rollout, now time.Time) error {
	st := rolloutState{Command: cmd, Waves: r.Waves, StartedAt: now.UTC()}
	data, _ := json.Marshal(st)
	kv, err := f.JS.KeyValue(ctx, wire.BucketRollouts)
	if err != nil {
		return fmt.Errorf("%w: open rollouts: %v", ErrUnavailable, err)
	}
	if _, err := kv.Create(ctx, cmd.ExecID, data); err != nil {
		return fmt.Errorf("%w: save rollout: %v", ErrUnavailable, err)
	}
	// The first wave usually has no delay: do not make the operator wait
	// for the next timer tick.
	f.advanceRollout(ctx, kv, cmd.ExecID)
	return nil
}

// RunRollouts advances every stored rollout once per interval until ctx ends.
func (f *Fanout) RunRollouts(ctx context.Context, interval time.Duration) {
	loop.Every(ctx, interval, f.advanceRollouts)
}

func (f *Fanout) advanceRollouts(ctx context.Context) {
	kv, err := f.JS.KeyValue(ctx, wire.BucketRollouts)
	if err != nil {
		return
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return
	}
	for key := range lister.Keys() {
		f.advanceRollout(ctx, kv, key)
	}
}

// advanceRollout publishes every wave that is due. The revision check makes
// two servers advancing the same rollout agree on who moved it.
func (f *Fanout) advanceRollout(ctx context.Context, kv jetstream.KeyValue, execID string) {
	for {
		entry, err := kv.Get(ctx, execID)
		if err != nil {
			return
		}
		var st rolloutState
		if err := json.Unmarshal(entry.Value(), &st); err != nil {
			f.log().Error("corrupt rollout state; dropping it", "exec_id", execID, "err", err)
			_ = kv.Delete(ctx, execID)
			return
		}
		if st.Halted != "" || st.Next >= len(st.Waves) {
			_ = kv.Delete(ctx, execID, jetstream.LastRevision(entry.Revision()))
			return
		}
		wave := st.Waves[st.Next]
		if f.now().Before(st.StartedAt.Add(wave.Delay.Std())) {
			return
		}
		reason, err := f.gate(ctx, st, wave)
		if err != nil {
			return // the row may not be projected yet; judge at the next tick
		}
		if reason != "" {
			st.Halted = reason
			f.audit(ctx, st.Command.Actor, "rollout.halt", st.Command.JobID,
				map[string]any{"exec_id": execID, "wave": st.Next, "reason": reason})
		} else if err := f.publishWave(ctx, &st); err != nil {
			f.log().Warn("publish rollout wave", "exec_id", execID, "wave", st.Next, "err", err)
			return
		}
		data, _ := json.Marshal(st)
		if _, err := kv.Update(ctx, execID, data, entry.Revision()); err != nil {
			return // another server moved it; it will continue
		}
	}
}

func (f *Fanout) publishWave(ctx context.Context, st *rolloutState) error {
	i := st.Next
	wave := st.Waves[i]
	cmd := st.Command
	cmd.RequestID = WaveRequestID(cmd.ExecID, i)
	cmd.IssuedAt = f.now().UTC()
	if err := f.publish(ctx, wire.SubjectCommandsGroup(wave.Group), cmd, cmd.RequestID); err != nil {
		return err
	}
	reached, err := f.Store.OnlinePCs(ctx, f.now(), false, []string{wave.Group})
	if err != nil {
		f.log().Warn("count wave targets", "exec_id", cmd.ExecID, "err", err)
	}
	st.Reached = append(st.Reached, len(reached))
	st.Next++
	return nil
}

// gate returns why wave may not be published, or "".
func (f *Fanout) gate(ctx context.Context, st rolloutState, wave manifest.Wave) (string, error) {
	if wave.MinSuccess == "" || st.Next == 0 {
		return "", nil
	}
	want, err := ParsePercent(wave.MinSuccess)
	if err != nil {
		return "invalid min_success " + strconv.Quote(wave.MinSuccess), nil
	}
	total := 0
	for _, n := range st.Reached {
		total += n
	}
	if total == 0 {
		return "", nil // nobody was reached: nothing can have failed
	}
	e, err := f.Store.GetExecution(ctx, st.Command.ExecID)
	if err != nil {
		return "", err
	}
	got := 100 * float64(e.Succeeded) / float64(total)
	if got < want {
		return fmt.Sprintf("success %.1f%% below min_success %s before wave %d", got, wave.MinSuccess, st.Next), nil
	}
	return "", nil
}

// WaveRequestID derives wave i's request id from the exec id.
func WaveRequestID(execID string, i int) string {
	ns, err := uuid.Parse(execID)
	if err != nil {
		ns = uuid.NameSpaceOID
	}
	return uuid.NewSHA1(ns, []byte("wave-"+strconv.Itoa(i))).String()
}

// ParsePercent reads "95%" (or "95") as 95.
func ParsePercent(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || v < 0 || v > 100 {
		return 0, errors.New("want a percentage between 0% and 100%")
	}
	return v, nil
}
