package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/web/auth"
)

// Options configures a Server. Engine and DB are required.
type Options struct {
	Engine Engine
	DB     *store.DB
	Logger *slog.Logger
	// Version and Role are reported by /healthz.
	Version string
	Role    string

	// Registry is where the metrics are registered and what /metrics
	// serves. When nil, a new registry with the Go and process collectors
	// is made.
	Registry *prometheus.Registry
	// Metrics are the server's metrics; when nil they are made on Registry.
	// Make them first with NewMetrics to hand ObserveStep to the engine.
	Metrics *Metrics

	// Ready, when set, must also report true for /readyz to answer 200
	// (e.g. "the engine has started").
	Ready func() bool

	// Auth logs users in; when nil one is made over DB with AuthOptions.
	Auth        *auth.Auth
	AuthOptions auth.Options

	// UI serves the browser pages; it is mounted at "/" behind the same
	// middleware as the API (so auth.ActorFrom works in it). Nil: no pages.
	UI http.Handler

	// MaxAttachmentBytes caps an uploaded file (default 10 MiB); a larger
	// one is answered 413.
	MaxAttachmentBytes int64
	// MaxImportBytes caps an app export sent to /api/v1/apps/import
	// (default 32 MiB).
	MaxImportBytes int64
	// ShutdownTimeout bounds Stop's wait for requests in flight (default
	// 20 s).
	ShutdownTimeout time.Duration

	// ClusterStatus, in cluster mode, returns the cluster status document
	// for GET /api/v1/cluster; nil means a standalone server.
	ClusterStatus func(ctx context.Context) (any, error)
	// Degraded, in cluster mode, reports that no booster is reachable and
	// the server claims jobs from the database itself (shown by /healthz).
	Degraded func() bool
}

// Server is the HTTP server. Make it with New.
type Server struct {
	o       Options
	log     *slog.Logger
	eng     Engine
	db      *store.DB
	auth    *auth.Auth
	metrics *Metrics
	reg     *prometheus.Registry
	mux     *http.ServeMux
	handler http.Handler
	// patterns lists the API routes, for the test that keeps
	// docs/openapi.yaml in step.
	patterns []string

	draining atomic.Bool

	mu       sync.Mutex
	srv      *http.Server
	ln       net.Listener
	done     chan struct{}
	quit     chan struct{} // closed by Stop: ends the janitor
	stopOnce sync.Once
}

// New builds the server and its routes. It does not listen; see Start.
func New(o Options) (*Server, error) {
	if o.Engine == nil || o.DB == nil {
		return nil, errors.New("web: Options.Engine and Options.DB are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxAttachmentBytes <= 0 {
		o.MaxAttachmentBytes = 10 << 20
	}
	if o.MaxImportBytes <= 0 {
		o.MaxImportBytes = 32 << 20
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 20 * time.Second
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
		o.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if o.Metrics == nil {
		m, err := NewMetrics(o.Registry)
		if err != nil {
			return nil, err
		}
		o.Metrics = m
	}
	if err := o.Metrics.watchJobs(o.Registry, o.DB, o.Logger); err != nil {
		return nil, err
	}
	if o.Auth == nil {
		ao := o.AuthOptions
		if ao.Logger == nil {
			ao.Logger = o.Logger
		}
		if ao.MaxFormBytes <= 0 {
			ao.MaxFormBytes = o.MaxAttachmentBytes + 1<<20
		}
		o.Auth = auth.New(o.DB, ao)
	}
	s := &Server{
		o: o, log: o.Logger.With("component", "web"), eng: o.Engine, db: o.DB,
		auth: o.Auth, metrics: o.Metrics, reg: o.Registry, mux: http.NewServeMux(),
	}
	s.routes()
	s.handler = s.observe(s.recoverer(securityHeaders(s.auth.Middleware(noteUser(s.mux)))))
	return s, nil
}

// Handler is the whole HTTP handler: API, probes, metrics and pages.
func (s *Server) Handler() http.Handler { return s.handler }

// Auth is the server's login and session layer (for the pages).
func (s *Server) Auth() *auth.Auth { return s.auth }

// Metrics are the server's metrics.
func (s *Server) Metrics() *Metrics { return s.metrics }

// SetDraining makes /readyz answer 503 (true) so load balancers stop sending
// new users here, e.g. before a patch; false makes it ready again.
func (s *Server) SetDraining(on bool) { s.draining.Store(on) }

// Draining reports whether SetDraining(true) is in force.
func (s *Server) Draining() bool { return s.draining.Load() }

// Start listens on addr (host:port) and serves in the background until Stop
// or until ctx ends. Requests get a context that is not cancelled by ctx, so
// a shutdown lets requests in flight finish.
func (s *Server) Start(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Start on a listener the caller opened.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		_ = ln.Close()
		return errors.New("web: server already started")
	}
	base := context.WithoutCancel(ctx)
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.ln = ln
	s.done = make(chan struct{})
	s.quit = make(chan struct{})
	srv, done := s.srv, s.done
	go s.janitor(s.quit)
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "err", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			s.Stop()
		case <-done:
		}
	}()
	s.log.Info("listening", "addr", ln.Addr().String())
	return nil
}

// Addr is the address the server listens on (nil before Start).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Stop stops accepting connections and waits up to ShutdownTimeout for
// requests in flight, then closes what is left. A second Stop is harmless.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.draining.Store(true)
		s.mu.Lock()
		srv, done := s.srv, s.done
		s.mu.Unlock()
		if srv == nil {
			return
		}
		close(s.quit)
		ctx, cancel := context.WithTimeout(context.Background(), s.o.ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			s.log.Warn("http shutdown: closing connections still open", "err", err)
			_ = srv.Close()
		}
		<-done
	})
}

// janitorEvery is how often expired sessions and tokens are deleted.
const janitorEvery = 15 * time.Minute

// janitor deletes expired sessions and API tokens now and then until quit
// closes. Every server of a cluster runs it; the deletes do not conflict.
func (s *Server) janitor(quit <-chan struct{}) {
	t := time.NewTicker(janitorEvery)
	defer t.Stop()
	for {
		select {
		case <-quit:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			n, err := s.db.DeleteExpired(ctx)
			cancel()
			if err != nil {
				s.log.Warn("delete expired sessions", "err", err)
			} else if n > 0 {
				s.log.Debug("deleted expired sessions and tokens", "rows", n)
			}
		}
	}
}
