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

func TestPasswordHashRoundTrip(t *testing.T) {
	h, err := store.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string", h)
	}
	if !store.CheckPassword(h, "correct horse") {
		t.Fatal("right password rejected")
	}
	if store.CheckPassword(h, "correct horsE") {
		t.Fatal("wrong password accepted")
	}
	h2, _ := store.HashPassword("correct horse")
	if h2 == h {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	for _, bad := range []string{"", "$argon2id$", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdA$a2V5", strings.Replace(h, "m=19456", "m=999999999", 1)} {
		if store.CheckPassword(bad, "correct horse") {
			t.Errorf("malformed hash %q matched", bad)
		}
	}
	if _, err := store.HashPassword("short"); !errors.Is(err, store.ErrInvalidInput) {
		t.Fatalf("short password: err = %v, want ErrInvalidInput", err)
	}
}

func TestUsersCRUDAndLockout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u := &store.User{Username: "alice", DisplayName: "Alice"}
		if err := db.CreateUser(ctx, u, "password1"); err != nil {
			t.Fatal(err)
		}
		if u.ID == 0 {
			t.Fatal("id not set")
		}
		if err := db.CreateUser(ctx, &store.User{Username: "alice"}, "password2"); !store.IsDuplicate(err) {
			t.Fatalf("duplicate username: err = %v", err)
		}
		if err := db.CreateUser(ctx, &store.User{Username: "a b"}, "password2"); !errors.Is(err, store.ErrInvalidInput) {
			t.Fatalf("bad username: err = %v", err)
		}
		got, err := db.UserByUsername(ctx, "alice")
		if err != nil || got.ID != u.ID || !store.CheckPassword(got.PasswordHash, "password1") {
			t.Fatalf("UserByUsername = %+v, %v", got, err)
		}
		if _, err := db.UserByID(ctx, 9999); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing user: %v", err)
		}
		name, tz, yes := "Alice A.", "Asia/Tokyo", true
		up, err := db.UpdateUser(ctx, u.ID, store.UserUpdate{DisplayName: &name, TimeZone: &tz, Admin: &yes})
		if err != nil || up.DisplayName != name || up.TimeZone != tz || !up.Admin {
			t.Fatalf("UpdateUser = %+v, %v", up, err)
		}
		bad := "not-an-email"
		if _, err := db.UpdateUser(ctx, u.ID, store.UserUpdate{Email: &bad}); !errors.Is(err, store.ErrInvalidInput) {
			t.Fatalf("bad email: %v", err)
		}

		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := 1; i <= 2; i++ {
			until, err := db.RecordLoginFailure(ctx, u.ID, now, 3, 15*time.Minute)
			if err != nil || until != nil {
				t.Fatalf("failure %d: until=%v err=%v", i, until, err)
			}
		}
		until, err := db.RecordLoginFailure(ctx, u.ID, now, 3, 15*time.Minute)
		if err != nil || until == nil || !until.Equal(now.Add(15*time.Minute)) {
			t.Fatalf("third failure: until=%v err=%v", until, err)
		}
		got, _ = db.UserByID(ctx, u.ID)
		if got.LockedUntil == nil || !got.LockedUntil.Equal(*until) || got.FailedLogins != 0 {
			t.Fatalf("after lock: locked_until=%v failed=%d", got.LockedUntil, got.FailedLogins)
		}
		if err := db.RecordLoginSuccess(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		got, _ = db.UserByID(ctx, u.ID)
		if got.LockedUntil != nil || got.FailedLogins != 0 {
			t.Fatalf("after success: %+v", got)
		}

		if err := db.SetPassword(ctx, u.ID, "new password"); err != nil {
			t.Fatal(err)
		}
		got, _ = db.UserByID(ctx, u.ID)
		if !store.CheckPassword(got.PasswordHash, "new password") || store.CheckPassword(got.PasswordHash, "password1") {
			t.Fatal("password not replaced")
		}
		if err := db.SetPassword(ctx, 9999, "new password"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("SetPassword missing user: %v", err)
		}
		us, err := db.Users(ctx)
		if err != nil || len(us) != 1 {
			t.Fatalf("Users = %v, %v", us, err)
		}
	})
}

func TestEnsureAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		created, err := db.EnsureAdmin(ctx, "first-password")
		if err != nil || !created {
			t.Fatalf("first EnsureAdmin = %v, %v", created, err)
		}
		created, err = db.EnsureAdmin(ctx, "second-password")
		if err != nil || created {
			t.Fatalf("second EnsureAdmin = %v, %v", created, err)
		}
		u, err := db.UserByUsername(ctx, "admin")
		if err != nil || !u.Admin || !store.CheckPassword(u.PasswordHash, "first-password") {
			t.Fatalf("admin = %+v, %v", u, err)
		}
	})
}

func TestGroupsAndRoles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u := &store.User{Username: "bob"}
		if err := db.CreateUser(ctx, u, "password1"); err != nil {
			t.Fatal(err)
		}
		ops := &store.Group{Name: "運用部"}
		if err := db.CreateGroup(ctx, ops); err != nil {
			t.Fatal(err)
		}
		team := &store.Group{Name: "team-a", ParentID: &ops.ID}
		if err := db.CreateGroup(ctx, team); err != nil {
			t.Fatal(err)
		}
		missing := int64(999)
		if err := db.CreateGroup(ctx, &store.Group{Name: "x", ParentID: &missing}); !errors.Is(err, store.ErrInvalidInput) {
			t.Fatalf("missing parent: %v", err)
		}
		if err := db.CreateGroup(ctx, &store.Group{Name: "team-a"}); !store.IsDuplicate(err) {
			t.Fatalf("duplicate group: %v", err)
		}
		// A cycle is refused: ops under its own child.
		if _, err := db.UpdateGroup(ctx, ops.ID, store.GroupUpdate{SetParent: true, Parent: &team.ID}); !errors.Is(err, store.ErrInvalidInput) {
			t.Fatalf("cycle: %v", err)
		}
		name := "team-alpha"
		g, err := db.UpdateGroup(ctx, team.ID, store.GroupUpdate{Name: &name})
		if err != nil || g.Name != name || g.ParentID == nil || *g.ParentID != ops.ID {
			t.Fatalf("rename = %+v, %v", g, err)
		}
		for range 2 { // twice is harmless
			if err := db.AddGroupMember(ctx, team.ID, u.ID); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.AddGroupMember(ctx, team.ID, 999); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing user: %v", err)
		}
		ms, err := db.GroupMembers(ctx, team.ID)
		if err != nil || len(ms) != 1 || ms[0].ID != u.ID {
			t.Fatalf("members = %v, %v", ms, err)
		}
		gs, err := db.UserGroups(ctx, u.ID)
		if err != nil || len(gs) != 1 || gs[0].Name != name {
			t.Fatalf("user groups = %v, %v", gs, err)
		}
		// Deleting the parent moves the child to the top level.
		if err := db.DeleteGroup(ctx, ops.ID); err != nil {
			t.Fatal(err)
		}
		g, _ = db.GroupByID(ctx, team.ID)
		if g.ParentID != nil {
			t.Fatalf("child still under deleted parent: %v", *g.ParentID)
		}
		if err := db.RemoveGroupMember(ctx, team.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.RemoveGroupMember(ctx, team.ID, u.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second remove: %v", err)
		}
		all, err := db.Groups(ctx)
		if err != nil || len(all) != 1 {
			t.Fatalf("groups = %v, %v", all, err)
		}

		if _, err := db.CreateRole(ctx, "admin"); !errors.Is(err, store.ErrInvalidInput) {
			t.Fatalf("built-in role: %v", err)
		}
		r, err := db.CreateRole(ctx, "approver")
		if err != nil {
			t.Fatal(err)
		}
		if err := db.AddRoleMember(ctx, r.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.AddRoleMember(ctx, r.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		roles, err := db.UserRoles(ctx, u.ID)
		if err != nil || len(roles) != 1 || roles[0] != "approver" {
			t.Fatalf("roles = %v, %v", roles, err)
		}
		if err := db.RemoveRoleMember(ctx, r.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		if roles, _ := db.UserRoles(ctx, u.ID); len(roles) != 0 {
			t.Fatalf("roles after remove = %v", roles)
		}
	})
}
