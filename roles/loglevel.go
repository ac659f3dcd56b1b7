package roles

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/omflow/omflow/store"
)

// LogLevel is the process logger's level, changeable while the process
// runs. It starts at LOG_LEVEL. Once an administrator saves the system
// settings (the "settings" change counter moves, on any server of a
// cluster), the log_level setting is applied, and again after each later
// save. A restart starts from LOG_LEVEL again, so an operator can always
// raise the level for one run from the settings file or OMFLOW_LOG_LEVEL.
type LogLevel struct {
	lv  *slog.LevelVar
	log *slog.Logger

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewLogLevel returns a logger that writes what log writes, filtered by a
// level that can change at run time (starting at level, a LOG_LEVEL value;
// info when it is not one), and the level's control.
func NewLogLevel(log *slog.Logger, level string) (*LogLevel, *slog.Logger) {
	l := &LogLevel{lv: new(slog.LevelVar)}
	if lvl, err := parseLevel(level); err == nil {
		l.lv.Set(lvl)
	}
	l.log = slog.New(levelHandler{h: log.Handler(), lv: l.lv})
	return l, l.log
}

func parseLevel(name string) (slog.Level, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.TrimSpace(name))); err != nil {
		return 0, fmt.Errorf("log level %q: use debug, info, warn or error", name)
	}
	return lvl, nil
}

// Level is the level in force.
func (l *LogLevel) Level() slog.Level { return l.lv.Level() }

// Set changes the level to name (debug, info, warn or error) and logs the
// change while the more verbose of the old and new levels is in force.
func (l *LogLevel) Set(name, why string) error {
	lvl, err := parseLevel(name)
	if err != nil {
		return err
	}
	old := l.lv.Level()
	if lvl == old {
		return nil
	}
	if lvl < old {
		l.lv.Set(lvl)
	}
	l.log.Info("log level changed", "from", old.String(), "to", lvl.String(), "by", why)
	l.lv.Set(lvl)
	return nil
}

// Follow applies the log_level setting whenever the system settings
// change, checking every interval, until ctx ends or Stop is called. A
// second Follow while one runs does nothing.
func (l *LogLevel) Follow(ctx context.Context, db *store.DB, every time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel != nil {
		return
	}
	ctx, l.cancel = context.WithCancel(ctx)
	l.done = make(chan struct{})
	go l.follow(ctx, db, every, l.done)
}

// Stop ends Follow and waits for it.
func (l *LogLevel) Stop() {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (l *LogLevel) follow(ctx context.Context, db *store.DB, every time.Duration, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(every)
	defer t.Stop()
	// The counter as first seen is the baseline: LOG_LEVEL stays in force
	// until the settings change after the start.
	var seen int64
	known := false
	for {
		v, err := settingsVersion(ctx, db)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				l.log.Debug("log level: cannot read the settings version", "err", err)
			}
		case !known:
			seen, known = v, true
		case v != seen:
			name, err := db.SettingString(ctx, store.SettingLogLevel)
			if err != nil {
				if ctx.Err() == nil {
					l.log.Warn("log level: cannot read the log_level setting", "err", err)
				}
				break
			}
			seen = v
			if err := l.Set(name, "system setting "+store.SettingLogLevel); err != nil {
				l.log.Warn("log level: ignoring the log_level setting", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func settingsVersion(ctx context.Context, db *store.DB) (int64, error) {
	vs, err := db.Versions(ctx)
	if err != nil {
		return 0, err
	}
	return vs["settings"], nil
}

// levelHandler lets records through by a changeable level, then hands
// them to h whatever level h was built with (slog's handlers check the
// level only in Enabled).
type levelHandler struct {
	h  slog.Handler
	lv *slog.LevelVar
}

func (l levelHandler) Enabled(_ context.Context, lvl slog.Level) bool { return lvl >= l.lv.Level() }

func (l levelHandler) Handle(ctx context.Context, r slog.Record) error { return l.h.Handle(ctx, r) }

func (l levelHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return levelHandler{h: l.h.WithAttrs(as), lv: l.lv}
}

func (l levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{h: l.h.WithGroup(name), lv: l.lv}
}
