package flow_test

import (
	"context"
	"errors"
	"testing"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

// The mission app's only permission entry names "任務處理組" (view, add),
// which is no group here: nobody but an administrator may file until an
// administrator maps the entry to a group.
func TestMappedPermissionGrantsRights(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEngine(t, db)
		flowID := importFile(t, e, "testdata/mission.json").Flows[0].ID
		support := &store.Group{Name: "support"}
		if err := db.CreateGroup(ctx, support); err != nil {
			t.Fatal(err)
		}
		u := &store.User{Username: "taro"}
		if err := db.CreateUser(ctx, u, "taro-password"); err != nil {
			t.Fatal(err)
		}
		if err := db.AddGroupMember(ctx, support.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		taro := &flow.Actor{UserID: u.ID, Username: "taro", Roles: []string{"user"}, Groups: []flow.ActorGroup{{ID: support.ID, Name: "support"}}}
		fields := map[string]any{"FORMITM_1": "プリンタ故障", "FORMITM_6": "hardware"}
		file := func() error {
			_, err := e.FileTicket(ctx, taro, "mission", fields)
			return err
		}

		perms, err := e.Permissions(ctx, admin, flowID)
		if err != nil {
			t.Fatal(err)
		}
		if len(perms) != 1 {
			t.Fatalf("permissions %+v, want the one entry of the export", perms)
		}
		p := perms[0]
		if p.Subject != "任務處理組" || !p.View || !p.Add || p.Modify || p.Delete || p.GroupID != nil || p.Known || p.FlowID != flowID {
			t.Fatalf("entry before mapping: %+v", p)
		}
		if err := file(); !errors.Is(err, flow.ErrForbidden) {
			t.Fatalf("unmapped: filing = %v, want forbidden", err)
		}

		// Only administrators see and map entries.
		if _, err := e.Permissions(ctx, taro, flowID); !errors.Is(err, flow.ErrForbidden) {
			t.Errorf("Permissions by a user = %v, want forbidden", err)
		}
		if err := e.MapPermission(ctx, taro, p.ID, &support.ID); !errors.Is(err, flow.ErrForbidden) {
			t.Errorf("MapPermission by a user = %v, want forbidden", err)
		}
		if _, err := e.Permissions(ctx, admin, flowID+1000); !errors.Is(err, flow.ErrNotFound) {
			t.Errorf("Permissions of a missing flow = %v, want not found", err)
		}
		missing := support.ID + 1000
		var ie *flow.InputError
		if err := e.MapPermission(ctx, admin, p.ID, &missing); !errors.As(err, &ie) || !errors.Is(err, flow.ErrInvalid) || ie.Field != "group_id" {
			t.Errorf("mapping to a missing group = %v, want invalid group_id", err)
		}
		if err := e.MapPermission(ctx, admin, p.ID+1000, &support.ID); !errors.Is(err, flow.ErrNotFound) {
			t.Errorf("mapping a missing entry = %v, want not found", err)
		}
		if err := file(); !errors.Is(err, flow.ErrForbidden) {
			t.Fatalf("after refused mappings: filing = %v, want forbidden", err)
		}

		before, err := db.Versions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.MapPermission(ctx, admin, p.ID, &support.ID); err != nil {
			t.Fatal(err)
		}
		// Mapping again to the same group is no error (MySQL counts no
		// changed row for it).
		if err := e.MapPermission(ctx, admin, p.ID, &support.ID); err != nil {
			t.Fatalf("mapping again: %v", err)
		}
		after, err := db.Versions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if after["flows"] != before["flows"]+1 {
			t.Errorf("flows change counter %d -> %d, want one step for one change", before["flows"], after["flows"])
		}
		perms, err = e.Permissions(ctx, admin, flowID)
		if err != nil || len(perms) != 1 || perms[0].GroupID == nil || *perms[0].GroupID != support.ID || perms[0].GroupName != "support" {
			t.Fatalf("after mapping: %+v, %v", perms, err)
		}
		filed, err := e.FileTicket(ctx, taro, "mission", fields)
		if err != nil {
			t.Fatalf("mapped: filing = %v", err)
		}
		if _, err := e.Ticket(ctx, taro, filed.ID); err != nil {
			t.Fatalf("mapped: reading the ticket = %v", err)
		}

		// A re-import keeps the mapping of a subject that stays (the
		// entries are written anew, with new ids).
		importFile(t, e, "testdata/mission.json")
		if err := file(); err != nil {
			t.Fatalf("after re-import: filing = %v", err)
		}
		if perms, err = e.Permissions(ctx, admin, flowID); err != nil || len(perms) != 1 || perms[0].GroupName != "support" {
			t.Fatalf("after re-import: %+v, %v", perms, err)
		}
		p = perms[0]

		if err := e.MapPermission(ctx, admin, p.ID, nil); err != nil {
			t.Fatal(err)
		}
		if err := file(); !errors.Is(err, flow.ErrForbidden) {
			t.Fatalf("unmapped again: filing = %v, want forbidden", err)
		}
		perms, _ = e.Permissions(ctx, admin, flowID)
		if perms[0].GroupID != nil || perms[0].GroupName != "" {
			t.Fatalf("after unmapping: %+v", perms[0])
		}

		// A group named like the subject makes it known (and applies by
		// name, no mapping needed).
		if err := db.CreateGroup(ctx, &store.Group{Name: "任務處理組"}); err != nil {
			t.Fatal(err)
		}
		if perms, _ = e.Permissions(ctx, admin, flowID); !perms[0].Known {
			t.Fatalf("subject with a group of its name: %+v", perms[0])
		}
	})
}
