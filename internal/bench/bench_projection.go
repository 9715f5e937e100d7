package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/projector"
	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/wire"
)

// ProjectionConfig sizes the projection benchmark.
type ProjectionConfig struct {
	Results     int // results already in RESULTS (200 000)
	PerExec     int // results per execution (10 000)
	OutputBytes int // stdout bytes per result (200)
	// NaiveResults is the subset the one-message-per-transaction projector
	// ingests (5 000): at its speed the full set would take minutes.
	NaiveResults int
	Batch        int    // real projector batch size (0 = its default)
	RawBatch     int    // rows per transaction of the raw upsert (500)
	Dir          string // work directory ("" = a temporary one)
	Timeout      time.Duration
}

func (c ProjectionConfig) withDefaults() ProjectionConfig {
	if c.Results <= 0 {
		c.Results = 200_000
	}
	if c.PerExec <= 0 {
		c.PerExec = 10_000
	}
	if c.OutputBytes < 0 {
		c.OutputBytes = 0
	} else if c.OutputBytes == 0 {
		c.OutputBytes = 200
	}
	if c.NaiveResults <= 0 {
		c.NaiveResults = min(5_000, c.Results)
	}
	if c.RawBatch <= 0 {
		c.RawBatch = 500
	}
	if c.Timeout <= 0 {
		c.Timeout = 15 * time.Minute
	}
	return c
}

// ProjectionReport holds the figures of one run; all three ingest the same
// rows into the same schema with the same driver.
type ProjectionReport struct {
	Results      int
	Publish      time.Duration // loading RESULTS (not part of any figure)
	Projector    time.Duration
	Raw          time.Duration
	NaiveResults int
	Naive        time.Duration
}

// ProjectorRate, RawRate and NaiveRate are results per second.
func (r ProjectionReport) ProjectorRate() float64 { return rate(r.Results, r.Projector) }
func (r ProjectionReport) RawRate() float64       { return rate(r.Results, r.Raw) }
func (r ProjectionReport) NaiveRate() float64     { return rate(r.NaiveResults, r.Naive) }

// VsRaw is the real projector's share of the physical limit (goal ≥ 0.6).
func (r ProjectionReport) VsRaw() float64 { return r.ProjectorRate() / r.RawRate() }

// VsNaive is how many times faster than one message per transaction (goal ≥ 10).
func (r ProjectionReport) VsNaive() float64 { return r.ProjectorRate() / r.NaiveRate() }

func (r ProjectionReport) String() string {
	return fmt.Sprintf("projection: %d results\n"+
		"  real projector   %8.0f results/s  (%v)\n"+
		"  raw batched      %8.0f results/s  (%v)  physical limit\n"+
		"  naive 1 msg/tx   %8.0f results/s  (%v on a %d-result subset)\n"+
		"  projector/raw    %.2f  (goal >= 0.60)\n"+
		"  projector/naive  %.1fx (goal >= 10x)\n",
		r.Results, r.ProjectorRate(), r.Projector.Round(time.Millisecond),
		r.RawRate(), r.Raw.Round(time.Millisecond),
		r.NaiveRate(), r.Naive.Round(time.Millisecond), r.NaiveResults,
		r.VsRaw(), r.VsNaive())
}

// RunProjection loads RESULTS with cfg.Results results, then measures, in
// this order, the real projector, the raw batched upsert and the naive
// projector, each into its own fresh SQLite file, and checks that the real
// projector's projection is complete with exact counters.
func RunProjection(ctx context.Context, cfg ProjectionConfig) (ProjectionReport, error) {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	dir, cleanup, err := workDir(cfg.Dir)
	if err != nil {
		return ProjectionReport{}, err
	}
	defer cleanup()
	b, err := startBroker(ctx, dir+"/nats")
	if err != nil {
		return ProjectionReport{}, err
	}
	defer b.close()
	rs := fleetResults(cfg.Results, cfg.PerExec, cfg.OutputBytes)
	rep := ProjectionReport{Results: len(rs), NaiveResults: cfg.NaiveResults}
	start := time.Now()
	if err := publishResults(ctx, b.js, rs); err != nil {
		return rep, err
	}
	rep.Publish = time.Since(start)
	if rep.Projector, err = measureProjector(ctx, b, dir, rs, cfg.Batch); err != nil {
		return rep, err
	}
	if rep.Raw, err = measureRaw(ctx, dir, rs, cfg.RawBatch); err != nil {
		return rep, err
	}
	if rep.Naive, err = measureNaive(ctx, b, dir, rs[:cfg.NaiveResults]); err != nil {
		return rep, err
	}
	return rep, nil
}

// publishResults puts rs into RESULTS the way agents do (Nats-Msg-Id =
// result_id), pipelined.
func publishResults(ctx context.Context, js jetstream.JetStream, rs []wire.ExecResult) error {
	const window = 1000 // below the client's default of 4 000 outstanding async publishes
	for lo := 0; lo < len(rs); lo += window {
		for _, r := range rs[lo:min(lo+window, len(rs))] {
			data, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("encode result: %w", err)
			}
			if _, err := js.PublishAsync(wire.SubjectResult(r.ExecID, r.PCID), data,
				jetstream.WithMsgID(r.ResultID)); err != nil {
				return fmt.Errorf("publish result: %w", err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-ctx.Done():
			return fmt.Errorf("publish results: %w", ctx.Err())
		}
	}
	return nil
}

// measureProjector runs the production projector from an empty database
// until every result is applied, then checks the projection.
func measureProjector(ctx context.Context, b *broker, dir string, rs []wire.ExecResult, batch int) (time.Duration, error) {
	st, _, err := openStore(dir, "projector.db")
	if err != nil {
		return 0, err
	}
	defer st.Close()
	if err := insertExecutions(ctx, st, rs); err != nil {
		return 0, err
	}
	p := projector.New(b.js, b.nc, st, projector.Options{Batch: batch,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- p.Run(runCtx) }()
	err = waitApplied(ctx, p, len(rs))
	elapsed := time.Since(start)
	stop()
	if runErr := <-done; err == nil {
		err = runErr
	}
	if err != nil {
		return 0, err
	}
	if n := p.Stats().DeadLetters.Load(); n != 0 {
		return 0, fmt.Errorf("projector dead-lettered %d valid results", n)
	}
	return elapsed, VerifyProjection(ctx, st, rs)
}

func waitApplied(ctx context.Context, p *projector.Projector, n int) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for p.Stats().Applied.Load() < int64(n) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("projector applied %d of %d: %w", p.Stats().Applied.Load(), n, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// VerifyProjection checks that every result of rs is projected once and
// every execution's counters equal its results' statuses.
func VerifyProjection(ctx context.Context, st *store.Store, rs []wire.ExecResult) error {
	page, err := st.ListResults(ctx, store.ResultFilter{Limit: 1})
	if err != nil {
		return err
	}
	if page.Total != len(rs) {
		return fmt.Errorf("projected %d results, want %d", page.Total, len(rs))
	}
	want := map[string]*store.Execution{}
	for i := range rs {
		e := want[rs[i].ExecID]
		if e == nil {
			e = &store.Execution{ExecID: rs[i].ExecID}
			want[rs[i].ExecID] = e
		}
		switch store.ResultStatus(&rs[i]) {
		case store.ResultSuccess:
			e.Succeeded++
		case store.ResultFailure:
			e.Failed++
		case store.ResultSkipped:
			e.Skipped++
		}
	}
	for id, w := range want {
		got, err := st.GetExecution(ctx, id)
		if err != nil {
			return err
		}
		if got.Succeeded != w.Succeeded || got.Failed != w.Failed || got.Skipped != w.Skipped ||
			got.Running != 0 || got.Lost != 0 || got.Status != store.StatusCompleted {
			return fmt.Errorf("execution %s: got %d/%d/%d running %d lost %d %s, want %d/%d/%d completed",
				id, got.Succeeded, got.Failed, got.Skipped, got.Running, got.Lost, got.Status,
				w.Succeeded, w.Failed, w.Skipped)
		}
	}
	return nil
}

// measureNaive is the design most peers use: one message, one
// transaction, one ack. It reuses the store's own Apply so only the
// batching differs.
func measureNaive(ctx context.Context, b *broker, dir string, rs []wire.ExecResult) (time.Duration, error) {
	st, _, err := openStore(dir, "naive.db")
	if err != nil {
		return 0, err
	}
	defer st.Close()
	if err := insertExecutions(ctx, st, rs); err != nil {
		return 0, err
	}
	cons, err := b.js.CreateOrUpdateConsumer(ctx, wire.StreamResults, jetstream.ConsumerConfig{
		Durable: "bench-naive", AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return 0, fmt.Errorf("naive consumer: %w", err)
	}
	start := time.Now()
	for done := 0; done < len(rs); {
		mb, err := cons.Fetch(min(100, len(rs)-done), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return 0, fmt.Errorf("naive fetch: %w", err)
		}
		for m := range mb.Messages() {
			if err := naiveOne(ctx, st, m); err != nil {
				return 0, err
			}
			done++
		}
	}
	elapsed := time.Since(start)
	return elapsed, VerifyProjection(ctx, st, rs)
}

func naiveOne(ctx context.Context, st *store.Store, m jetstream.Msg) error {
	meta, err := m.Metadata()
	if err != nil {
		return fmt.Errorf("naive metadata: %w", err)
	}
	var r wire.ExecResult
	if err := json.Unmarshal(m.Data(), &r); err != nil {
		return fmt.Errorf("naive decode: %w", err)
	}
	batch := &store.Batch{Results: []store.ResultMsg{{ExecResult: r, RecordedAt: meta.Timestamp}}}
	if _, err := st.Apply(ctx, batch); err != nil {
		return fmt.Errorf("naive apply: %w", err)
	}
	if err := m.Ack(); err != nil {
		return fmt.Errorf("naive ack: %w", err)
	}
	return nil
}

// resultColumns are the columns the projector writes for a finished result.
var resultColumns = []string{"result_id", "request_id", "exec_id", "job_id", "version", "pc_id", "status",
	"exit_code", "skip_reason", "timed_out", "killed", "stdout", "stderr", "stdout_truncated",
	"stderr_truncated", "started_at", "finished_at", "recorded_at"}

// measureRaw is the physical limit: the same rows, already decoded,
// written with multi-row INSERT ... ON CONFLICT DO NOTHING, batch rows per
// transaction, into the same schema through the same driver — no broker,
// no decoding, no status lookups, no counters.
func measureRaw(ctx context.Context, dir string, rs []wire.ExecResult, batch int) (time.Duration, error) {
	st, path, err := openStore(dir, "raw.db")
	if err != nil {
		return 0, err
	}
	if err := st.Close(); err != nil {
		return 0, fmt.Errorf("close raw store: %w", err)
	}
	db, err := sql.Open("sqlite", rawDSN(path))
	if err != nil {
		return 0, fmt.Errorf("open raw db: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	rows := rawRows(rs)
	stmts := map[int]*sql.Stmt{}
	defer func() {
		for _, st := range stmts {
			st.Close()
		}
	}()
	start := time.Now()
	for lo := 0; lo < len(rows); lo += batch {
		if err := rawTx(ctx, db, stmts, rows[lo:min(lo+batch, len(rows))]); err != nil {
			return 0, err
		}
	}
	elapsed := time.Since(start)
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM execution_results`).Scan(&n); err != nil || n != len(rs) {
		return 0, errors.Join(err, fmt.Errorf("raw upsert wrote %d rows, want %d", n, len(rs)))
	}
	return elapsed, nil
}

// rawDSN repeats the store's writer pragmas (WAL, synchronous=NORMAL,
// same cache) so the comparison is fair.
func rawDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "cache_size(-65536)")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

func rawRows(rs []wire.ExecResult) [][]any {
	out := make([][]any, len(rs))
	rec := benchEpoch.Format("2006-01-02T15:04:05.000000000Z")
	for i := range rs {
		r := &rs[i]
		out[i] = []any{r.ResultID, r.RequestID, r.ExecID, r.JobID, r.Version, r.PCID, store.ResultStatus(r),
			r.ExitCode, r.SkipReason, r.TimedOut, r.Killed, r.Stdout, r.Stderr, r.StdoutTruncated,
			r.StderrTruncated, wire.Stamp(r.StartedAt), wire.Stamp(r.FinishedAt), rec}
	}
	return out
}

// rawChunk keeps each statement under SQLite's bound-variable limit.
const rawChunk = 500

// rawTx writes rows in one transaction; statements are prepared once per
// VALUES-list length (outside any transaction: the pool has one
// connection) so parsing is not counted against the limit.
func rawTx(ctx context.Context, db *sql.DB, stmts map[int]*sql.Stmt, rows [][]any) error {
	for lo := 0; lo < len(rows); lo += rawChunk {
		n := min(rawChunk, len(rows)-lo)
		if stmts[n] == nil {
			st, err := db.PrepareContext(ctx, rawInsert(n))
			if err != nil {
				return fmt.Errorf("raw prepare: %w", err)
			}
			stmts[n] = st
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("raw begin: %w", err)
	}
	defer tx.Rollback()
	for lo := 0; lo < len(rows); lo += rawChunk {
		chunk := rows[lo:min(lo+rawChunk, len(rows))]
		args := make([]any, 0, len(chunk)*len(resultColumns))
		for _, r := range chunk {
			args = append(args, r...)
		}
		if _, err := tx.StmtContext(ctx, stmts[len(chunk)]).ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("raw insert: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("raw commit: %w", err)
	}
	return nil
}

func rawInsert(n int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(resultColumns)), ",") + ")"
	return "INSERT INTO execution_results(" + strings.Join(resultColumns, ",") + ") VALUES " +
		strings.TrimSuffix(strings.Repeat(one+",", n), ",") + " ON CONFLICT(result_id) DO NOTHING"
}
