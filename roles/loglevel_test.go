package roles

import (
	"context"
	"github.com/omflow/omflow/internal/testutil"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/omflow/omflow/config"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

type syncBuffer = testutil.LogBuffer

// The level filters the process logger and loggers derived from it, even
// below the level its handler was built with.
func TestLogLevelFiltersAtRunTime(t *testing.T) {
	var buf syncBuffer
	base := NewLogger(config.Config{LogLevel: "warn", Role: "server", NodeName: "n1"}, &buf)
	level, log := NewLogLevel(base, "warn")
	child := log.With("component", "flow").WithGroup("g")

	log.Info("info-1")
	child.Warn("warn-1")
	if err := level.Set("debug", "test"); err != nil {
		t.Fatal(err)
	}
	child.Debug("debug-1")
	if err := level.Set("error", "test"); err != nil {
		t.Fatal(err)
	}
	log.Warn("warn-2")
	log.Error("error-1")
	if err := level.Set("loud", "test"); err == nil || level.Level() != slog.LevelError {
		t.Fatalf("Set(loud) = %v, level %v; want an error and no change", err, level.Level())
	}
	out := buf.String()
	for _, want := range []string{"warn-1", "debug-1", "error-1", "component=flow", "node=n1", "from=WARN to=DEBUG", "from=DEBUG to=ERROR"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, not := range []string{"info-1", "warn-2"} {
		if strings.Contains(out, not) {
			t.Errorf("log has %q, which its level filters out:\n%s", not, out)
		}
	}
}

func waitLevel(t *testing.T, level *LogLevel, want slog.Level) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for level.Level() != want {
		if time.Now().After(deadline) {
			t.Fatalf("level is %v, want %v", level.Level(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// LOG_LEVEL holds at start, even against a stored setting; each later save
// of the settings applies log_level, even when its value did not change.
func TestLogLevelFollowsTheSetting(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	if err := db.SetSetting(ctx, store.SettingLogLevel, "warn"); err != nil {
		t.Fatal(err)
	}
	var buf syncBuffer
	level, _ := NewLogLevel(slog.New(slog.NewTextHandler(&buf, nil)), "debug")
	level.Follow(ctx, db, 10*time.Millisecond)
	defer level.Stop()
	time.Sleep(100 * time.Millisecond)
	if level.Level() != slog.LevelDebug {
		t.Fatalf("at start the level is %v, want LOG_LEVEL's debug", level.Level())
	}

	if err := db.SetSetting(ctx, store.SettingLogLevel, "error"); err != nil {
		t.Fatal(err)
	}
	waitLevel(t, level, slog.LevelError)
	if err := db.SetSetting(ctx, store.SettingLogLevel, "info"); err != nil {
		t.Fatal(err)
	}
	waitLevel(t, level, slog.LevelInfo)
	if !strings.Contains(buf.String(), "by=\"system setting log_level\"") {
		t.Errorf("the change is not logged:\n%s", buf.String())
	}

	// Saving settings applies log_level as stored, even unchanged.
	if err := level.Set("debug", "test"); err != nil {
		t.Fatal(err)
	}
	if err := db.SetSetting(ctx, store.SettingDefaultLang, "en"); err != nil {
		t.Fatal(err)
	}
	waitLevel(t, level, slog.LevelInfo)

	level.Stop()
	level.Stop() // harmless
	if err := db.SetSetting(ctx, store.SettingLogLevel, "warn"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if level.Level() != slog.LevelInfo {
		t.Fatalf("after Stop the level moved to %v", level.Level())
	}
}
