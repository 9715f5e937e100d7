package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kanade-dev/kanade/internal/wire"
)

// fleet fills a store with n agents in 10 groups and one execution with a
// result per agent.
func fleet(b testing.TB, n int) *Store {
	b.Helper()
	ctx := context.Background()
	s, err := Open(b.TempDir() + "/bench.db")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	hbs := make([]wire.Heartbeat, n)
	pcs := make([]string, n)
	groups := map[string][]string{}
	batch := &Batch{}
	for i := range n {
		pc := fmt.Sprintf("pc-%05d", i)
		pcs[i] = pc
		hbs[i] = wire.Heartbeat{PCID: pc, Hostname: pc + ".corp", OS: []string{"linux", "windows", "darwin"}[i%3],
			At: t0.Add(-time.Duration(i%300) * time.Second)}
		groups[pc] = []string{fmt.Sprintf("g%d", i%10)}
		batch.Results = append(batch.Results, ResultMsg{ExecResult: wire.ExecResult{ResultID: "r" + pc, ExecID: "big",
			JobID: "job", PCID: pc, ExitCode: i % 2, Stdout: strings.Repeat("x", 2000), FinishedAt: t0}, RecordedAt: t0})
	}
	if err := s.UpsertHeartbeats(ctx, hbs); err != nil {
		b.Fatal(err)
	}
	if err := s.ReplaceAgentGroups(ctx, groups); err != nil {
		b.Fatal(err)
	}
	if err := s.InsertExecution(ctx, Execution{ExecID: "big", JobID: "job", InitiatedAt: t0, TargetCount: n}, pcs); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Apply(ctx, batch); err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkListAgents10k(b *testing.B) {
	s := fleet(b, 10000)
	ctx := context.Background()
	filters := map[string]AgentFilter{
		"all": {}, "online-offset": {Status: "online", Offset: 3000}, "group-os": {Group: "g3", OS: "linux"},
		"substring": {Q: "pc-09"}, "regex": {Q: `^pc-0\d1`}, "sort-heartbeat": {Sort: "-last_heartbeat"},
	}
	for name, f := range filters {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				p, err := s.ListAgents(ctx, f, t0)
				if err != nil || len(p.Items) == 0 {
					b.Fatal(p.Total, err)
				}
			}
		})
	}
}

func BenchmarkExecutionResults10k(b *testing.B) {
	s := fleet(b, 10000)
	ctx := context.Background()
	for b.Loop() {
		rs, err := s.ExecutionResults(ctx, "big")
		if err != nil || len(rs) != 10000 {
			b.Fatal(len(rs), err)
		}
	}
}

func BenchmarkCompletions10k(b *testing.B) {
	s := fleet(b, 10000)
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.Completions(ctx, "job", nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkApplyResults(b *testing.B) {
	s, err := Open(b.TempDir() + "/bench.db")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	_ = s.InsertExecution(ctx, Execution{ExecID: "e", JobID: "job", InitiatedAt: t0, TargetCount: 1 << 30}, nil)
	const per = 500
	i := 0
	for b.Loop() {
		batch := &Batch{}
		for range per {
			i++
			batch.Results = append(batch.Results, ResultMsg{ExecResult: wire.ExecResult{ResultID: fmt.Sprint("r", i),
				ExecID: "e", JobID: "job", PCID: fmt.Sprint("pc", i%10000), Stdout: "ok", FinishedAt: t0}, RecordedAt: t0})
		}
		if _, err := s.Apply(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(per*b.N)/b.Elapsed().Seconds(), "results/s")
}
