package projector

import "github.com/prometheus/client_golang/prometheus"

// collector exposes Stats as Prometheus counters, read at scrape time so
// the hot path keeps its plain atomics.
type collector struct {
	p     *Projector
	descs []*prometheus.Desc
	reads []func(*Stats) int64
}

// Collector returns a prometheus.Collector over the projector's Stats
// (kanade_projector_*_total). Register it once per projector:
//
//	prometheus.MustRegister(p.Collector())
func (p *Projector) Collector() prometheus.Collector {
	c := &collector{p: p}
	add := func(name, help string, read func(*Stats) int64) {
		c.descs = append(c.descs, prometheus.NewDesc("kanade_projector_"+name+"_total", help, nil, nil))
		c.reads = append(c.reads, read)
	}
	add("applied", "Stream messages committed to SQLite.", func(s *Stats) int64 { return s.Applied.Load() })
	add("dead_letters", "Undecodable messages recorded in dead_letters.", func(s *Stats) int64 { return s.DeadLetters.Load() })
	add("db_errors", "Failed SQLite writes (batches retried, heartbeats re-queued).", func(s *Stats) int64 { return s.DBErrors.Load() })
	add("heartbeats_written", "Heartbeats written to agents.", func(s *Stats) int64 { return s.HeartbeatsWritten.Load() })
	add("heartbeats_dropped", "Invalid heartbeats dropped.", func(s *Stats) int64 { return s.HeartbeatsDropped.Load() })
	add("groups_skipped", "Corrupt agent_groups values skipped.", func(s *Stats) int64 { return s.GroupsSkipped.Load() })
	return c
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for i, d := range c.descs {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(c.reads[i](&c.p.stats)))
	}
}
