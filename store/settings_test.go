package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

func TestSettingsDefaultsAndValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		all, err := db.Settings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"login_max_failures": "5", "login_lock_minutes": "15", "session_timeout_minutes": "480", "log_level": "info", "default_lang": "ja"}
		for k, v := range want {
			if all[k] != v {
				t.Errorf("default %s = %q, want %q", k, all[k], v)
			}
		}
		if n, err := db.SettingInt(ctx, store.SettingLoginMaxFailures); err != nil || n != 5 {
			t.Fatalf("SettingInt default = %d, %v", n, err)
		}
		if err := db.SetSettings(ctx, map[string]string{"login_max_failures": "3", "log_level": "debug"}); err != nil {
			t.Fatal(err)
		}
		if err := db.SetSetting(ctx, "login_max_failures", "4"); err != nil { // upsert
			t.Fatal(err)
		}
		if n, _ := db.SettingInt(ctx, store.SettingLoginMaxFailures); n != 4 {
			t.Fatalf("login_max_failures = %d, want 4", n)
		}
		// One bad value: nothing of the batch is stored, and the error names it.
		err = db.SetSettings(ctx, map[string]string{"log_level": "warn", "session_timeout_minutes": "abc", "nope": "1"})
		if !errors.Is(err, store.ErrInvalidInput) || !strings.Contains(err.Error(), "session_timeout_minutes") || !strings.Contains(err.Error(), "nope") {
			t.Fatalf("bad batch: %v", err)
		}
		if v, _ := db.SettingString(ctx, store.SettingLogLevel); v != "debug" {
			t.Fatalf("log_level = %q after a refused batch, want debug", v)
		}
		if _, err := db.SettingString(ctx, "nope"); !errors.Is(err, store.ErrUnknownSetting) {
			t.Fatalf("unknown key: %v", err)
		}
		for _, c := range []struct{ k, v string }{{"login_max_failures", "0"}, {"login_lock_minutes", "1.5"}, {"default_lang", "fr"}} {
			if err := store.ValidateSetting(c.k, c.v); err == nil {
				t.Errorf("%s=%q accepted", c.k, c.v)
			}
		}
	})
}
