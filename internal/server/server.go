// Package server assembles the backend role: broker (embedded or
// external), SQLite projection, projectors, fan-out, scheduler and the
// HTTP API with the dashboard. `kanade server` and `kanade dev` both run it.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kanade-dev/kanade/internal/api"
	"github.com/kanade-dev/kanade/internal/audit"
	"github.com/kanade-dev/kanade/internal/bus"
	"github.com/kanade-dev/kanade/internal/bus/embedded"
	"github.com/kanade-dev/kanade/internal/fanout"
	"github.com/kanade-dev/kanade/internal/projector"
	"github.com/kanade-dev/kanade/internal/scheduler"
	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/web"
)

// Config is the effective configuration of one server.
type Config struct {
	DataDir    string `json:"data_dir"`
	HTTPAddr   string `json:"http_addr"`
	NATSListen string `json:"nats_listen"`
	NATSURL    string `json:"nats_url"`
	Auth       string `json:"auth"`
	AuthToken  string `json:"-"`
	Replicas   int    `json:"replicas"`
	Reproject  bool   `json:"reproject"`
	// SchedulerPoll overrides the one-minute tick; for tests only.
	SchedulerPoll time.Duration `json:"scheduler_poll"`
	TickKeep      int           `json:"tick_keep"`
	Version       string        `json:"-"`
}

// Check reports configuration mistakes before anything starts.
func (c Config) Check() error {
	switch c.Auth {
	case "none":
	case "token", "":
		if c.AuthToken == "" {
			return errors.New("no credential configured: set --auth-token (or KANADE_AUTH_TOKEN), or run with --auth none to serve the API without authentication")
		}
	default:
		return fmt.Errorf("--auth: want none or token, got %q", c.Auth)
	}
	if c.DataDir == "" {
		return errors.New("--data-dir must not be empty")
	}
	return nil
}

// Server is a running backend.
type Server struct {
	cfg    Config
	log    *slog.Logger
	ns     *natsserver.Server
	nc     *nats.Conn
	js     jetstream.JetStream
	db     *store.Store
	proj   *projector.Projector
	fan    *fanout.Fanout
	sched  *scheduler.Scheduler
	http   *http.Server
	ln     net.Listener
	cancel context.CancelFunc
	done   chan struct{}
}

// Start brings every part up and returns once the HTTP API listens.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	s := &Server{cfg: cfg, log: log, done: make(chan struct{})}
	if err := s.startBroker(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.startProjection(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.startHTTP(); err != nil {
		s.Close()
		return nil, err
	}
	if cfg.Auth == "none" {
		log.Warn("AUTHENTICATION IS OFF: anyone who can reach " + s.HTTPURL() + " can run scripts on every PC")
	}
	log.Info("kanade server ready", "http", s.HTTPURL(), "nats", s.NATSURL(), "data_dir", cfg.DataDir)
	return s, nil
}

func (s *Server) startBroker(ctx context.Context) error {
	url := s.cfg.NATSURL
	if url == "" {
		ns, err := embedded.Start(embedded.Options{
			Listen: s.cfg.NATSListen, StoreDir: filepath.Join(s.cfg.DataDir, "jetstream"),
		})
		if err != nil {
			return err
		}
		s.ns = ns
		url = ns.ClientURL()
	}
	nc, err := bus.Connect(url, "kanade-server")
	if err != nil {
		return err
	}
	s.nc = nc
	if s.js, err = jetstream.New(nc); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return bus.Ensure(ectx, s.js, bus.Config{Replicas: s.cfg.Replicas})
}

func (s *Server) startProjection(ctx context.Context) error {
	db, err := store.Open(filepath.Join(s.cfg.DataDir, "kanade.db"))
	if err != nil {
		return err
	}
	s.db = db
	if s.cfg.Reproject {
		if err := s.reproject(ctx); err != nil {
			return err
		}
	}
	s.proj = projector.New(s.js, s.nc, db, projector.Options{Logger: s.log})
	// Several servers may live in one process (tests, dev); the first one
	// to register owns the series and the others skip.
	_ = prometheus.Register(s.proj.Collector())
	s.fan = &fanout.Fanout{JS: s.js, Store: db, Audit: &audit.Publisher{JS: s.js}, Log: s.log}
	s.sched, err = scheduler.NewKV(ctx, s.js, scheduler.Config{
		Dispatcher: s.fan, Fleet: db, Results: scheduler.StoreResults{Store: db},
		Poll: s.cfg.SchedulerPoll, Keep: s.cfg.TickKeep, Log: s.log,
	})
	if err != nil {
		return fmt.Errorf("start scheduler: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		defer close(s.done)
		s.runBackground(runCtx)
	}()
	return nil
}

func (s *Server) startHTTP() error {
	ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.HTTPAddr, err)
	}
	s.ln = ln
	s.http = &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server", "err", err)
		}
	}()
	return nil
}

func (s *Server) handler() http.Handler {
	var auth api.Authenticator = api.TokenAuth{Token: s.cfg.AuthToken}
	if s.cfg.Auth == "none" {
		auth = api.OpenAuth{}
	}
	a := api.New(api.Deps{
		NC: s.nc, JS: s.js, Store: s.db, Projector: s.proj, Fanout: s.fan, Audit: s.fan.Audit,
		Auth: auth, Log: s.log, Version: s.cfg.Version, Schedules: s.sched,
	})
	mux := http.NewServeMux()
	mux.Handle("/api/", a)
	mux.Handle("/health", a)
	mux.Handle("/metrics", promhttp.Handler())
	mux.Handle("/", web.Handler())
	return instrument(mux)
}

// HTTPURL is the base URL of the API and dashboard.
func (s *Server) HTTPURL() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// NATSURL is where agents connect.
func (s *Server) NATSURL() string {
	if s.ns != nil {
		return s.ns.ClientURL()
	}
	return s.cfg.NATSURL
}

// Close stops everything, newest first. It is safe on a half-started server.
func (s *Server) Close() {
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.http.Shutdown(ctx)
		cancel()
	}
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	if s.nc != nil {
		s.nc.Close()
	}
	if s.db != nil {
		_ = s.db.Close()
	}
	if s.ns != nil {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	}
}
