package web

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/store"
)

// TestPermissionMappingThroughTheAPI maps the mission app's unknown
// permission subject to a group the user is in, and back, on the real
// engine: the user may file while the mapping holds.
func TestPermissionMappingThroughTheAPI(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Engine = flow.New(o.DB, flow.Options{Node: "web-test", Hooks: flow.Hooks{JobsCommitted: func([]flow.JobRef) {}}})
	})
	ctx := context.Background()
	data, err := os.ReadFile("../flow/testdata/mission.json")
	if err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/api/v1/apps/import", e.adminToken, data)
	if r.Code != 201 {
		t.Fatalf("import: %d %s", r.Code, r.Body)
	}
	var imp flow.ImportResult
	if err := json.Unmarshal(r.Body.Bytes(), &imp); err != nil || len(imp.Flows) != 1 {
		t.Fatalf("import answer %s: %v", r.Body, err)
	}
	flowID := imp.Flows[0].ID
	g := &store.Group{Name: "support"}
	if err := e.db.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := e.db.AddGroupMember(ctx, g.ID, e.user.ID); err != nil {
		t.Fatal(err)
	}
	file := func() int {
		t.Helper()
		return e.do("POST", "/api/v1/flows/mission/tickets", e.userToken,
			map[string]any{"fields": map[string]any{"FORMITM_1": "プリンタ故障", "FORMITM_6": "hardware"}}).Code
	}
	list := func() []flow.PermissionView {
		t.Helper()
		r := e.do("GET", fmt.Sprintf("/api/v1/flows/%d/permissions", flowID), e.adminToken, nil)
		if r.Code != 200 {
			t.Fatalf("list permissions: %d %s", r.Code, r.Body)
		}
		var out []flow.PermissionView
		if err := json.Unmarshal(r.Body.Bytes(), &out); err != nil {
			t.Fatalf("permissions %s: %v", r.Body, err)
		}
		return out
	}

	perms := list()
	if len(perms) != 1 || perms[0].Subject != "任務處理組" || perms[0].Known || perms[0].GroupID != nil || !perms[0].Add {
		t.Fatalf("permissions before mapping: %+v", perms)
	}
	if c := file(); c != 403 {
		t.Fatalf("unmapped: filing answered %d, want 403", c)
	}
	path := fmt.Sprintf("/api/v1/permissions/%d", perms[0].ID)

	r = e.do("PUT", path, e.adminToken, map[string]any{"group_id": g.ID})
	if r.Code != 200 {
		t.Fatalf("map: %d %s", r.Code, r.Body)
	}
	if m := r.json(); m["id"] != float64(perms[0].ID) || m["group_id"] != float64(g.ID) {
		t.Fatalf("map answer %s", r.Body)
	}
	if p := list()[0]; p.GroupID == nil || *p.GroupID != g.ID || p.GroupName != "support" {
		t.Fatalf("after mapping: %+v", p)
	}
	if c := file(); c != 201 {
		t.Fatalf("mapped: filing answered %d, want 201", c)
	}

	r = e.do("PUT", path, e.adminToken, `{"group_id": null}`)
	if r.Code != 200 || r.json()["group_id"] != nil {
		t.Fatalf("unmap: %d %s", r.Code, r.Body)
	}
	if c := file(); c != 403 {
		t.Fatalf("unmapped again: filing answered %d, want 403", c)
	}

	for _, c := range []struct {
		name, method, path, token string
		body                      any
		status                    int
		field                     string
	}{
		{"list as a user", "GET", fmt.Sprintf("/api/v1/flows/%d/permissions", flowID), e.userToken, nil, 403, ""},
		{"map as a user", "PUT", path, e.userToken, map[string]any{"group_id": g.ID}, 403, ""},
		{"list without login", "GET", fmt.Sprintf("/api/v1/flows/%d/permissions", flowID), "", nil, 401, ""},
		{"list of a missing flow", "GET", "/api/v1/flows/99999/permissions", e.adminToken, nil, 404, "flow"},
		{"list with a bad id", "GET", "/api/v1/flows/mission/permissions", e.adminToken, nil, 400, "id"},
		{"map a missing entry", "PUT", "/api/v1/permissions/99999", e.adminToken, map[string]any{"group_id": g.ID}, 404, ""},
		{"map to a missing group", "PUT", path, e.adminToken, map[string]any{"group_id": g.ID + 1000}, 422, "group_id"},
		{"no group_id", "PUT", path, e.adminToken, `{}`, 400, "group_id"},
		{"group_id a string", "PUT", path, e.adminToken, `{"group_id": "support"}`, 400, "group_id"},
		{"group_id zero", "PUT", path, e.adminToken, `{"group_id": 0}`, 400, "group_id"},
		{"unknown key", "PUT", path, e.adminToken, `{"group_id": 1, "role": "x"}`, 400, "role"},
		{"wrong method", "POST", path, e.adminToken, `{"group_id": 1}`, 405, ""},
	} {
		r := e.do(c.method, c.path, c.token, c.body)
		if r.Code != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.Code, r.Body, c.status)
			continue
		}
		if _, _, field := r.errBody(); field != c.field {
			t.Errorf("%s: error field %q, want %q (%s)", c.name, field, c.field, r.Body)
		}
	}
	if p := list()[0]; p.GroupID != nil {
		t.Fatalf("refused requests changed the mapping: %+v", p)
	}
}
