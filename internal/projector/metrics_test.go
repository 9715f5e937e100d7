package projector

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestCollectorExposesStats(t *testing.T) {
	p := New(nil, nil, nil, Options{})
	p.stats.Applied.Add(7)
	p.stats.DeadLetters.Add(2)
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(p.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf.GetMetric()[0].GetCounter().GetValue()
	}
	if len(got) != 6 || got["kanade_projector_applied_total"] != 7 || got["kanade_projector_dead_letters_total"] != 2 {
		t.Fatalf("gathered %v", got)
	}
}
