package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kanade-dev/kanade/internal/api"
	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/wire"
)

// APIConfig sizes the API latency benchmark.
type APIConfig struct {
	Agents      int // agents known (10 000)
	Results     int // results of the one big execution (10 000)
	OutputBytes int // stdout per result (1 000)
	Clients     int // concurrent clients (32)
	Requests    int // requests of the agents list (2 000)
	// DetailRequests of the 10 000-row execution detail (10 per client):
	// each answer is ~4 MB, so fewer requests give the same percentiles.
	DetailRequests int
	Dir            string
}

func (c APIConfig) withDefaults() APIConfig {
	if c.Agents <= 0 {
		c.Agents = 10_000
	}
	if c.Results <= 0 {
		c.Results = 10_000
	}
	if c.OutputBytes <= 0 {
		c.OutputBytes = 1_000
	}
	if c.Clients <= 0 {
		c.Clients = 32
	}
	if c.Requests <= 0 {
		c.Requests = 2_000
	}
	if c.DetailRequests <= 0 {
		c.DetailRequests = 10 * c.Clients
	}
	return c
}

// RouteLatency is the latency distribution of one route under load.
type RouteLatency struct {
	Route    string
	Goal     time.Duration // p99 goal
	Requests int
	Bytes    int64 // body size of one answer
	P50, P99 time.Duration
	Max      time.Duration
	Elapsed  time.Duration
}

// Ratio is p99 over the goal (≤ 1 meets it).
func (r RouteLatency) Ratio() float64 { return float64(r.P99) / float64(r.Goal) }

// APIReport holds one run's figures.
type APIReport struct {
	Config APIConfig
	Routes []RouteLatency
}

func (r APIReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "api latency: %d agents, %d results, %d concurrent clients\n",
		r.Config.Agents, r.Config.Results, r.Config.Clients)
	for _, l := range r.Routes {
		fmt.Fprintf(&b, "  %-32s p50 %8v  p99 %8v  max %8v  %6.0f req/s  %7d B  (goal p99 <= %v; ratio %.2f)\n",
			l.Route, l.P50.Round(10*time.Microsecond), l.P99.Round(10*time.Microsecond),
			l.Max.Round(10*time.Microsecond), rate(l.Requests, l.Elapsed), l.Bytes, l.Goal, l.Ratio())
	}
	return b.String()
}

// apiExec is the big execution's id.
const apiExec = "0b6f1d2e-6a57-4c1e-9b8e-5e2a7f0c4d11" // the API wants a UUID

// RunAPI serves the real API handlers over a real HTTP listener on a real
// SQLite file and measures the agents list and the execution detail.
func RunAPI(ctx context.Context, cfg APIConfig) (APIReport, error) {
	cfg = cfg.withDefaults()
	rep := APIReport{Config: cfg}
	dir, cleanup, err := workDir(cfg.Dir)
	if err != nil {
		return rep, err
	}
	defer cleanup()
	st, _, err := openStore(dir, "api.db")
	if err != nil {
		return rep, err
	}
	defer st.Close()
	now := benchEpoch
	if err := seedAPI(ctx, st, cfg, now); err != nil {
		return rep, err
	}
	h := api.New(api.Deps{Store: st, Auth: api.OpenAuth{}, Log: quietLog(), Now: func() time.Time { return now }})
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Clients}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	if err := verifyAPI(ctx, client, srv.URL, cfg); err != nil {
		return rep, err
	}
	routes := []struct {
		path string
		goal time.Duration
		n    int
	}{
		{"/api/agents?limit=100", 25 * time.Millisecond, cfg.Requests},
		{"/api/executions/" + apiExec, 50 * time.Millisecond, cfg.DetailRequests},
	}
	for _, r := range routes {
		l, err := loadRoute(ctx, client, srv.URL, r.path, cfg.Clients, r.n)
		if err != nil {
			return rep, err
		}
		l.Goal = r.goal
		rep.Routes = append(rep.Routes, l)
	}
	return rep, nil
}

// seedAPI writes cfg.Agents agents (half online, ten groups, three OSes)
// and one execution targeting the first cfg.Results of them, all answered.
func seedAPI(ctx context.Context, st *store.Store, cfg APIConfig, now time.Time) error {
	hbs := make([]wire.Heartbeat, cfg.Agents)
	groups := make(map[string][]string, cfg.Agents)
	for i := range cfg.Agents {
		pc := pcName(i)
		hbs[i] = wire.Heartbeat{PCID: pc, Hostname: pc + ".corp", OS: []string{"linux", "windows", "darwin"}[i%3],
			Arch: "amd64", AgentVersion: "1.0.0", At: now.Add(-time.Duration(i%240) * time.Second)}
		groups[pc] = []string{fmt.Sprintf("g%d", i%10)}
	}
	if err := st.UpsertHeartbeats(ctx, hbs); err != nil {
		return fmt.Errorf("seed agents: %w", err)
	}
	if err := st.ReplaceAgentGroups(ctx, groups); err != nil {
		return fmt.Errorf("seed groups: %w", err)
	}
	rs := fleetResults(cfg.Results, cfg.Results, cfg.OutputBytes)
	pcs := make([]string, len(rs))
	batch := &store.Batch{}
	for i := range rs {
		rs[i].ExecID = apiExec
		pcs[i] = rs[i].PCID
		batch.Results = append(batch.Results, store.ResultMsg{ExecResult: rs[i], RecordedAt: now})
	}
	e := store.Execution{ExecID: apiExec, JobID: "bench-job", Version: "1", InitiatedBy: "bench",
		InitiatedAt: now.Add(-time.Minute), TargetCount: len(pcs)}
	if err := st.InsertExecution(ctx, e, pcs); err != nil {
		return fmt.Errorf("seed execution: %w", err)
	}
	if _, err := st.Apply(ctx, batch); err != nil {
		return fmt.Errorf("seed results: %w", err)
	}
	return nil
}

// loadRoute sends requests GETs of path from clients concurrent
// clients (closed loop: each sends its next request when the previous
// answer is read) after a short warm-up, and returns the latencies.
func loadRoute(ctx context.Context, c *http.Client, base, path string, clients, requests int) (RouteLatency, error) {
	l := RouteLatency{Route: "GET " + path, Requests: requests}
	n, err := get(ctx, c, base+path)
	if err != nil {
		return l, err
	}
	l.Bytes = n
	for range clients { // warm the read pool's connections and caches
		if _, err := get(ctx, c, base+path); err != nil {
			return l, err
		}
	}
	lat := make([]time.Duration, requests)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < requests; i = int(next.Add(1)) - 1 {
				t := time.Now()
				if _, err := get(ctx, c, base+path); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				lat[i] = time.Since(t)
			}
		})
	}
	wg.Wait()
	l.Elapsed = time.Since(start)
	if firstErr != nil {
		return l, firstErr
	}
	slices.Sort(lat)
	l.P50, l.P99, l.Max = percentile(lat, 50), percentile(lat, 99), lat[len(lat)-1]
	return l, nil
}

// verifyAPI checks that both answers are complete before timing them.
func verifyAPI(ctx context.Context, c *http.Client, base string, cfg APIConfig) error {
	var agents store.Page[store.Agent]
	if err := getJSON(ctx, c, base+"/api/agents?limit=100", &agents); err != nil {
		return err
	}
	if agents.Total != cfg.Agents || len(agents.Items) != min(100, cfg.Agents) || len(agents.Items[0].Groups) != 1 {
		return fmt.Errorf("agents page: total %d, %d items, want %d and %d with groups",
			agents.Total, len(agents.Items), cfg.Agents, min(100, cfg.Agents))
	}
	var detail struct {
		Execution store.Execution `json:"execution"`
		Results   []store.Result  `json:"results"`
	}
	if err := getJSON(ctx, c, base+"/api/executions/"+apiExec, &detail); err != nil {
		return err
	}
	if len(detail.Results) != cfg.Results || detail.Execution.Status != store.StatusCompleted {
		return fmt.Errorf("execution detail: %d results, status %s, want %d completed",
			len(detail.Results), detail.Execution.Status, cfg.Results)
	}
	return nil
}

func getJSON(ctx context.Context, c *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("request %s: %w", url, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("get %s: status %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("decode %s: %w", url, err)
	}
	return nil
}

// get reads a whole 200 answer and returns its size.
func get(ctx context.Context, c *http.Client, url string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("request %s: %w", url, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return n, fmt.Errorf("read %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return n, fmt.Errorf("get %s: status %d", url, resp.StatusCode)
	}
	return n, nil
}
