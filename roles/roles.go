// Package roles wires the parts of omflow together for each role the binary
// can run as (server, booster, agent, slave) and runs it until its context
// ends. Each role has one file; the parts are built by small setup functions.
package roles

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/omflow/omflow/config"
	"github.com/omflow/omflow/store"
)

// Run starts the role named in cfg and returns when ctx ends and the role
// has stopped.
func Run(ctx context.Context, cfg config.Config) error {
	log := NewLogger(cfg, os.Stderr)
	slog.SetDefault(log)
	switch cfg.Role {
	case config.RoleServer, "":
		return RunServer(ctx, cfg, log)
	case config.RoleSlave:
		// A server in cluster mode that never migrates the database.
		return RunServer(ctx, cfg, log)
	case config.RoleBooster:
		return RunBooster(ctx, cfg, log)
	}
	return fmt.Errorf("role %q is not built yet", cfg.Role)
}

// NewLogger builds the process logger from LOG_LEVEL and LOG_FORMAT.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(h).With("role", cfg.Role, "node", cfg.NodeName)
}

// StoreOptions maps the DB_* settings to store options.
func StoreOptions(cfg config.Config, log *slog.Logger) (store.Options, error) {
	eng, err := store.ParseEngine(cfg.DBEngine)
	if err != nil {
		return store.Options{}, err
	}
	return store.Options{Engine: eng, Path: cfg.SQLitePath(), Host: cfg.DBHost, Port: cfg.DBPort, Name: cfg.DBName,
		User: cfg.DBUser, Password: cfg.DBPassword, Params: cfg.DBParams, MaxOpenConns: cfg.DBMaxConns, Logger: log}, nil
}

// OpenStore opens the configured database.
func OpenStore(ctx context.Context, cfg config.Config, log *slog.Logger) (*store.DB, error) {
	o, err := StoreOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	return store.Open(ctx, o)
}
