package store

import (
	"context"
	"testing"
	"time"
)

// TestTouchSessionExtendsExpiry ages a session row directly (no method does
// that) and checks that a touch then slides its expiry.
func TestTouchSessionExtendsExpiry(t *testing.T) {
	db, err := Open(context.Background(), Options{Engine: SQLite, Path: t.TempDir() + "/t.db"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	token, s, err := db.CreateSession(ctx, 1, time.Hour, "", "")
	if err != nil {
		t.Fatal(err)
	}
	past := db.Now().Add(-10 * time.Minute)
	if err := db.g.Model(&Session{}).Where("id = ?", s.ID).Updates(map[string]any{"last_seen_at": past, "expires_at": past.Add(time.Hour)}).Error; err != nil {
		t.Fatal(err)
	}
	s, err = db.SessionByToken(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	wrote, err := db.TouchSession(ctx, s, 2*time.Hour)
	if err != nil || !wrote {
		t.Fatalf("touch wrote=%v err=%v", wrote, err)
	}
	s2, err := db.SessionByToken(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if d := s2.ExpiresAt.Sub(db.Now()); d < 119*time.Minute || d > 121*time.Minute {
		t.Fatalf("expiry %v from now, want about 2h", d)
	}
}
