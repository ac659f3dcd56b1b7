package roles

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/omflow/omflow/cli"
	"github.com/omflow/omflow/cluster/client"
	"github.com/omflow/omflow/config"
	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/web"
	"github.com/omflow/omflow/web/auth"
	"github.com/omflow/omflow/web/ui"
)

// Server is the OMFLOW Server role: database, flow engine and HTTP.
type Server struct {
	Cfg    config.Config
	Log    *slog.Logger
	DB     *store.DB
	Engine *flow.Engine
	Web    *web.Server
	Broker *ui.Broker
	// Cluster is the cluster membership and booster session in cluster
	// mode (BOOSTER_IP set), nil for a standalone server (see cluster.go).
	Cluster *client.Node
	// Level is the logger's level: LOG_LEVEL, then the log_level setting.
	Level *LogLevel
	// AdminPassword is set when this start created the admin user with a
	// generated password (printed once).
	AdminPassword string
}

// RunServer runs the server role until ctx ends, then stops it cleanly:
// no new requests, in-flight jobs finished or handed back, exit.
func RunServer(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	s, err := StartServer(ctx, cfg, log)
	if err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("stopping: draining requests and handing back jobs")
	s.Stop()
	log.Info("stopped")
	return nil
}

// StartServer builds and starts every part of the server; it returns once
// the server listens.
func StartServer(ctx context.Context, cfg config.Config, log *slog.Logger) (*Server, error) {
	level, log := NewLogLevel(log, cfg.LogLevel)
	s := &Server{Cfg: cfg, Log: log, Level: level}
	if err := s.setupStore(ctx); err != nil {
		return nil, err
	}
	if err := s.setupAdmin(ctx); err != nil {
		s.DB.Close()
		return nil, err
	}
	if err := s.setupEngineAndWeb(ctx); err != nil {
		s.DB.Close()
		return nil, err
	}
	s.Level.Follow(ctx, s.DB, 5*time.Second)
	return s, nil
}

func (s *Server) setupStore(ctx context.Context) error {
	db, err := openStoreRetrying(ctx, s.Cfg, s.Log, 0)
	if err != nil {
		return err
	}
	s.DB = db
	if s.Cfg.ClusterMode() {
		// A cluster database is prepared once by 'omflow db migrate'; a
		// server only waits for it.
		return db.WaitSchema(ctx)
	}
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	return nil
}

// openStoreRetrying connects, retrying with backoff while the database is
// not up yet, and says what it waits for. defaultConns sizes the pool when
// DB_MAX_CONNS is not set (0: the store's default).
func openStoreRetrying(ctx context.Context, cfg config.Config, log *slog.Logger, defaultConns int) (*store.DB, error) {
	o, err := StoreOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	if o.MaxOpenConns == 0 {
		o.MaxOpenConns = defaultConns
	}
	delay := 500 * time.Millisecond
	for {
		db, err := store.Open(ctx, o)
		if err == nil {
			return db, nil
		}
		if cfg.DBEngine == config.EngineSQLite || ctx.Err() != nil {
			return nil, err
		}
		log.Warn("waiting for the database", "engine", cfg.DBEngine, "host", cfg.DBHost, "port", cfg.DBPort, "retry_in", delay, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 15*time.Second)
	}
}

func (s *Server) setupAdmin(ctx context.Context) error {
	pw := s.Cfg.AdminPassword
	generated := pw == ""
	if generated {
		pw = randomPassword(16)
	}
	created, err := s.DB.EnsureAdmin(ctx, pw)
	if err != nil {
		return err
	}
	if created && generated {
		s.AdminPassword = pw
		// Printed once, to the console, never logged to a file by us.
		fmt.Printf("\n  OMFLOW administrator created\n    user:     %s\n    password: %s\n  Change it after the first login.\n  管理者を作成しました。初回ログイン後にパスワードを変更してください。\n\n", store.AdminUsername, pw)
	} else if created {
		s.Log.Info("administrator created with the password from OMFLOW_ADMIN_PASSWORD", "user", store.AdminUsername)
	}
	return nil
}

func randomPassword(n int) string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
	b := make([]byte, n)
	for i := range b {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[k.Int64()]
	}
	return string(b)
}

func (s *Server) setupEngineAndWeb(ctx context.Context) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := web.NewMetrics(reg)
	if err != nil {
		return err
	}
	s.Broker = ui.NewBroker()
	eo := flow.Options{
		Node: s.Cfg.NodeName, Workers: s.Cfg.Workers, Poll: true, Logger: s.Log,
		Hooks: flow.Hooks{
			StepDone:     metrics.StepDone,
			TaskAssigned: s.Broker.TaskAssigned,
			TaskClosed:   s.Broker.TaskClosed,
		},
	}
	if s.Cfg.ClusterMode() {
		s.clusterEngineOptions(&eo)
	}
	s.Engine = flow.New(s.DB, eo)
	maxUpload := int64(s.Cfg.MaxAttachmentMB) << 20
	accounts := auth.New(s.DB, auth.Options{Logger: s.Log, MaxFormBytes: maxUpload + 1<<20})
	uo := ui.Options{Engine: s.Engine, Accounts: accounts, Directory: s.DB, Broker: s.Broker,
		Logger: s.Log, Version: cli.Version, MaxUpload: maxUpload}
	if s.Cfg.ClusterMode() {
		s.clusterUIOptions(&uo)
	}
	pages, err := ui.New(uo)
	if err != nil {
		return err
	}
	wo := web.Options{
		Engine: s.Engine, DB: s.DB, Logger: s.Log, Version: cli.Version, Role: s.Cfg.Role, Auth: accounts,
		Registry: reg, Metrics: metrics, MaxAttachmentBytes: maxUpload, UI: pages.Handler(),
	}
	if s.Cfg.ClusterMode() {
		s.clusterWebOptions(&wo)
		if err := s.startClusterNode(ctx); err != nil {
			return err
		}
	}
	w, err := web.New(wo)
	if err != nil {
		s.stopCluster()
		return err
	}
	s.Web = w
	if err := s.Engine.Start(ctx); err != nil {
		s.stopCluster()
		return err
	}
	if err := s.connectCluster(ctx); err != nil {
		s.Engine.Stop()
		s.stopCluster()
		return err
	}
	if err := w.Start(ctx, s.Cfg.HTTPAddr()); err != nil {
		s.detachCluster()
		s.Engine.Stop()
		s.stopCluster()
		return err
	}
	return nil
}

// Stop stops HTTP first (no new work), then the booster session (no new
// dispatches), then the engine (running jobs finish, held jobs go back to
// the database), then leaves the cluster, then the database. A second Stop
// is harmless.
func (s *Server) Stop() {
	if s.Web != nil {
		s.Web.Stop()
	}
	s.detachCluster()
	if s.Engine != nil {
		s.Engine.Stop()
	}
	s.stopCluster()
	if s.Level != nil {
		s.Level.Stop()
	}
	if s.DB != nil {
		_ = s.DB.Close()
	}
}
