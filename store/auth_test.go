package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

func TestSessionsAndTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u := &store.User{Username: "carol"}
		if err := db.CreateUser(ctx, u, "password1"); err != nil {
			t.Fatal(err)
		}
		token, s, err := db.CreateSession(ctx, u.ID, time.Hour, "127.0.0.1", "test")
		if err != nil {
			t.Fatal(err)
		}
		if s.ID == token || s.ID != store.HashToken(token) || len(s.ID) != 64 || len(s.CSRFToken) < 40 {
			t.Fatalf("session id %q must be the sha256 hex of the token", s.ID)
		}
		got, err := db.SessionByToken(ctx, token)
		if err != nil || got.UserID != u.ID || got.CSRFToken != s.CSRFToken {
			t.Fatalf("SessionByToken = %+v, %v", got, err)
		}
		if _, err := db.SessionByToken(ctx, token+"x"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("wrong token: %v", err)
		}
		// Touching right after creation writes nothing; a minute later it does.
		if wrote, err := db.TouchSession(ctx, got, time.Hour); err != nil || wrote {
			t.Fatalf("early touch wrote=%v err=%v", wrote, err)
		}
		// The stored row decides: a stale copy in memory does not cause a
		// second write within the minute (another server touched it).
		got.LastSeenAt = got.LastSeenAt.Add(-2 * time.Minute)
		if wrote, err := db.TouchSession(ctx, got, time.Hour); err != nil || wrote {
			t.Fatalf("touch of a fresh row wrote=%v err=%v", wrote, err)
		}

		// An expired session is not found and is swept.
		old, _, err := db.CreateSession(ctx, u.ID, -time.Second, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.SessionByToken(ctx, old); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired session found: %v", err)
		}
		exp := time.Now().Add(-time.Minute)
		_, _, err = db.CreateAPIToken(ctx, u.ID, "old", &exp)
		if err != nil {
			t.Fatal(err)
		}
		n, err := db.DeleteExpired(ctx)
		if err != nil || n != 2 {
			t.Fatalf("DeleteExpired = %d, %v; want 2", n, err)
		}

		plain, tok, err := db.CreateAPIToken(ctx, u.ID, "ci", nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(plain, store.TokenPrefix) || tok.TokenHash != store.HashToken(plain) {
			t.Fatalf("token %q / hash %q", plain, tok.TokenHash)
		}
		found, err := db.APITokenByToken(ctx, plain)
		if err != nil || found.ID != tok.ID {
			t.Fatalf("APITokenByToken = %+v, %v", found, err)
		}
		if err := db.TouchAPIToken(ctx, found); err != nil || found.LastUsedAt == nil {
			t.Fatalf("TouchAPIToken: %v", err)
		}
		list, err := db.APITokens(ctx, u.ID)
		if err != nil || len(list) != 1 {
			t.Fatalf("APITokens = %v, %v", list, err)
		}
		if err := db.RevokeAPIToken(ctx, u.ID+1, tok.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoking another user's token: %v", err)
		}
		if err := db.RevokeAPIToken(ctx, u.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.APITokenByToken(ctx, plain); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoked token found: %v", err)
		}

		// DeleteUserSessions keeps only the named session.
		keepTok, keep, _ := db.CreateSession(ctx, u.ID, time.Hour, "", "")
		if err := db.DeleteUserSessions(ctx, u.ID, keep.ID, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SessionByToken(ctx, token); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other session survived: %v", err)
		}
		if _, err := db.SessionByToken(ctx, keepTok); err != nil {
			t.Fatalf("kept session gone: %v", err)
		}
		if err := db.DeleteSession(ctx, keepTok); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SessionByToken(ctx, keepTok); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted session found: %v", err)
		}
	})
}
