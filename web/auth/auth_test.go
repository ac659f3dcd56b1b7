package auth

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

func TestIPLimiterDrainsOnFailuresOnly(t *testing.T) {
	l := newIPLimiter(rate.Every(10*time.Second), 2)
	now := time.Unix(1_000_000, 0)
	for i := 0; i < 5; i++ {
		if _, ok := l.allowed("a", now); !ok {
			t.Fatal("an address with no failures was limited")
		}
	}
	l.fail("a", now)
	l.fail("a", now)
	wait, ok := l.allowed("a", now)
	if ok || wait < 9*time.Second || wait > 10*time.Second {
		t.Fatalf("after burst: ok=%v wait=%v", ok, wait)
	}
	if _, ok := l.allowed("b", now); !ok {
		t.Fatal("another address was limited")
	}
	if _, ok := l.allowed("a", now.Add(10*time.Second)); !ok {
		t.Fatal("no refill after 10s")
	}
	l.fail("c", now.Add(time.Hour)) // prunes "a": refilled long ago
	if _, present := l.buckets["a"]; present {
		t.Fatal("full bucket not pruned")
	}
}

func TestLoginAndActor(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	u := &store.User{Username: "kei", DisplayName: "Kei", Admin: true}
	if err := db.CreateUser(ctx, u, "kei-password"); err != nil {
		t.Fatal(err)
	}
	g := &store.Group{Name: "ops"}
	if err := db.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	_ = db.AddGroupMember(ctx, g.ID, u.ID)
	r, _ := db.CreateRole(ctx, "approver")
	_ = db.AddRoleMember(ctx, r.ID, u.ID)

	now := time.Now()
	a := New(db, Options{Now: func() time.Time { return now }})
	if got, err := a.Login(ctx, " kei ", "kei-password", "10.0.0.1"); err != nil || got.ID != u.ID {
		t.Fatalf("login = %v, %v", got, err)
	}
	if _, err := a.Login(ctx, "kei", "nope-nope", "10.0.0.1"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	act, err := ActorFor(ctx, db, u)
	if err != nil {
		t.Fatal(err)
	}
	if act.UserID != u.ID || act.Name != "Kei" || !act.Admin || len(act.Groups) != 1 || act.Groups[0].Name != "ops" ||
		!slices.Equal(act.Roles, []string{"user", "approver", "admin"}) {
		t.Fatalf("actor %+v", act)
	}

	// A token identifies the user; the cache serves a second lookup, and
	// Forget makes a revocation visible at once.
	tok, exp, err := a.IssueToken(ctx, u, "login")
	if err != nil || exp.Sub(now) != 480*time.Minute {
		t.Fatalf("IssueToken: %v exp in %v", err, exp.Sub(now))
	}
	id, err := a.FromToken(ctx, tok)
	if err != nil || id.User.ID != u.ID || id.Token == nil || id.Session != nil {
		t.Fatalf("FromToken = %+v, %v", id, err)
	}
	if err := a.RevokeToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := a.FromToken(ctx, tok); !errors.Is(err, errNoLogin) {
		t.Fatalf("revoked token: %v", err)
	}
}

func TestClientIP(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.1.1:5000"
	r.Header.Set("X-Forwarded-For", "1.2.3.4, 192.0.2.9")
	if ip := (&Auth{}).ClientIP(r); ip != "10.1.1.1" {
		t.Fatalf("untrusted header used: %s", ip)
	}
	if ip := (&Auth{opts: Options{TrustForwardedFor: true}}).ClientIP(r); ip != "192.0.2.9" {
		t.Fatalf("trusted: %s", ip)
	}
}
