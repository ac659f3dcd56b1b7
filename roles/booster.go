package roles

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/omflow/omflow/cli"
	"github.com/omflow/omflow/cluster/booster"
	"github.com/omflow/omflow/config"
	"github.com/omflow/omflow/store"
)

// Booster is the booster role: the cluster coordinator, one of an
// Active/Standby pair.
type Booster struct {
	Cfg  config.Config
	Log  *slog.Logger
	DB   *store.DB
	Node *booster.Node
	HTTP *http.Server
}

// RunBooster runs the booster role until ctx ends (SIGTERM), then hands
// the lease over at once and stops.
func RunBooster(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	b, err := StartBooster(ctx, cfg, log)
	if err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("stopping: handing the lease over")
	b.Stop()
	log.Info("stopped")
	return nil
}

// StartBooster waits for the database and its schema, then starts the
// booster; it returns once the cluster port (and BOOSTER_HTTP_PORT) listen.
func StartBooster(ctx context.Context, cfg config.Config, log *slog.Logger) (*Booster, error) {
	if cfg.DBEngine == config.EngineSQLite {
		// config.Validate refuses it too; a booster must never run on a
		// local file.
		return nil, errors.New("DB_ENGINE=sqlite cannot be used by a booster: the cluster shares one database server")
	}
	key, err := cfg.ClusterKeyBytes()
	if err != nil {
		return nil, err
	}
	b := &Booster{Cfg: cfg, Log: log}
	if b.DB, err = openStoreRetrying(ctx, cfg, log, boosterDBConns); err != nil {
		return nil, err
	}
	// A cluster database is prepared by 'omflow db migrate'; a booster
	// only waits for it.
	if err := b.DB.WaitSchema(ctx); err != nil {
		b.DB.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	httpAddr := ""
	if cfg.BoosterHTTPPort > 0 {
		host := cfg.HTTPIP
		if host == "" {
			host = cfg.LocalIP // listening on all addresses: others reach it on the cluster address
		}
		httpAddr = net.JoinHostPort(host, strconv.Itoa(cfg.BoosterHTTPPort))
	}
	b.Node, err = booster.StartNode(ctx, booster.NodeConfig{
		Key: key, Self: cfg.LocalAddr(), Boosters: cfg.BoosterAddrs(), Name: clusterNodeName(cfg), Version: cli.Version, HTTP: httpAddr,
		Store: b.DB, Lease: b.DB.Lease(store.BoosterLeaseName), Registry: reg, Logger: log,
	})
	if err != nil {
		b.DB.Close()
		return nil, err
	}
	if cfg.BoosterHTTPPort > 0 {
		if err := b.startHTTP(ctx, reg); err != nil {
			b.Stop()
			return nil, err
		}
	}
	return b, nil
}

// boosterDBConns caps the booster's database pool: it runs one lease
// renewal, one sweep and one version read at a time, plus fenced releases.
const boosterDBConns = 8

// startHTTP serves /healthz, /metrics and /api/v1/cluster on
// HTTP_IP:BOOSTER_HTTP_PORT (all addresses when HTTP_IP is empty).
func (b *Booster) startHTTP(ctx context.Context, reg *prometheus.Registry) error {
	addr := net.JoinHostPort(b.Cfg.HTTPIP, strconv.Itoa(b.Cfg.BoosterHTTPPort))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		epoch, active := b.Node.Active()
		writeJSONResponse(w, map[string]any{"status": "ok", "role": config.RoleBooster, "version": cli.Version,
			"address": b.Node.Addr(), "active": active, "epoch": epoch})
	})
	mux.HandleFunc("GET /api/v1/cluster", func(w http.ResponseWriter, r *http.Request) {
		writeJSONResponse(w, b.Node.Status())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("BOOSTER_HTTP_PORT: listen on %s: %w", addr, err)
	}
	b.HTTP = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(b.Log.Handler(), slog.LevelWarn)}
	go func() {
		if err := b.HTTP.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.Log.Error("booster http stopped", "err", err)
		}
	}()
	b.Log.Info("booster status page listening", "addr", ln.Addr().String())
	return nil
}

func writeJSONResponse(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// Stop hands the lease over (if active), leaves the cluster, then closes
// the status page and the database. A second Stop is harmless.
func (b *Booster) Stop() {
	if b.Node != nil {
		b.Node.Stop()
	}
	if b.HTTP != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = b.HTTP.Shutdown(ctx)
		cancel()
	}
	if b.DB != nil {
		_ = b.DB.Close()
	}
}

// clusterNodeName is this node's gossip name: NODE_NAME (the host name by
// default) and the cluster address, unique even when several nodes share a
// host. A server's job leases carry it too, so the booster can release the
// jobs of a server that died.
func clusterNodeName(cfg config.Config) string {
	return cfg.NodeName + "@" + cfg.LocalAddr()
}
