package web

import (
	"context"
	"testing"

	"github.com/omflow/omflow/cluster"
)

func TestClusterStatusEndpoint(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", "/api/v1/cluster", e.adminToken, nil); r.Code != 200 || r.json()["mode"] != "standalone" || len(r.json()) != 1 {
		t.Fatalf("standalone: %d %s; want {\"mode\":\"standalone\"}", r.Code, r.Body)
	}
	if r := e.do("GET", "/api/v1/cluster", e.userToken, nil); r.Code != 403 {
		t.Fatalf("non-admin: %d; want 403", r.Code)
	}
	if r := e.do("GET", "/healthz", "", nil); r.json()["degraded"] != nil {
		t.Fatalf("standalone /healthz says degraded: %s", r.Body)
	}

	degraded := true
	st := cluster.Status{Mode: "cluster", ActiveBooster: "127.0.0.2:5169", Epoch: 3, Members: []cluster.MemberStatus{
		{Name: "b1", Role: cluster.RoleBooster, Address: "127.0.0.2:5169", State: cluster.StateAlive, Version: "v", Active: true},
	}}
	e = newEnv(t, func(o *Options) {
		o.ClusterStatus = func(context.Context) (any, error) { return st, nil }
		o.Degraded = func() bool { return degraded }
	})
	r := e.do("GET", "/api/v1/cluster", e.adminToken, nil)
	m := r.json()
	members, _ := m["members"].([]any)
	if r.Code != 200 || m["mode"] != "cluster" || m["active_booster"] != "127.0.0.2:5169" || m["epoch"] != 3.0 || len(members) != 1 {
		t.Fatalf("cluster: %d %s", r.Code, r.Body)
	}
	mem := members[0].(map[string]any)
	for _, k := range []string{"name", "role", "address", "http", "state", "version", "active", "load"} {
		if _, ok := mem[k]; !ok {
			t.Fatalf("member %v lacks %q", mem, k)
		}
	}
	if r := e.do("GET", "/healthz", "", nil); r.json()["degraded"] != true {
		t.Fatalf("/healthz while degraded: %s", r.Body)
	}
	degraded = false
	if r := e.do("GET", "/healthz", "", nil); r.json()["degraded"] != false {
		t.Fatalf("/healthz after degraded mode: %s", r.Body)
	}
}
