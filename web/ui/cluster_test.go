package ui_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/omflow/omflow/cluster"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/web/ui/uitest"
)

// In cluster mode the settings page lists the members, and every page
// shows a banner while no booster is reachable.
func TestClusterBlockAndDegradedBanner(t *testing.T) {
	var degraded atomic.Bool
	st := cluster.Status{Mode: "cluster", ClusterID: "omflow-1a2b3c4d", ActiveBooster: "10.0.0.11:5169", Epoch: 7,
		Members: []cluster.MemberStatus{
			{Name: "b1@10.0.0.11:5169", Role: cluster.RoleBooster, Address: "10.0.0.11:5169", State: cluster.StateAlive, Version: "1.2", Active: true},
			{Name: "s1@10.0.0.31:5169", Role: cluster.RoleServer, Address: "10.0.0.31:5169", HTTP: "10.0.0.31:8080", State: cluster.StateDead, Version: "1.2", Load: 3},
		}}
	s := uitest.Start(t, uitest.Options{
		Cluster:  func(context.Context) (cluster.Status, error) { return st, nil },
		Degraded: degraded.Load,
	})
	admin := s.Client(t)
	admin.Lang = "en"
	admin.Login(store.AdminUsername, uitest.AdminPassword)
	p := admin.Get("/admin/settings")
	mustStatus(t, p, http.StatusOK)
	mustContain(t, p, "Active booster: 10.0.0.11:5169 (epoch 7)", "omflow-1a2b3c4d", "b1@10.0.0.11:5169", "s1@10.0.0.31:5169",
		"10.0.0.31:8080", "dead", ">active<")
	if strings.Contains(p.Body, "it is not part of a cluster") || strings.Contains(p.Body, `id="degraded"`) {
		t.Fatal("cluster mode page shows the standalone text or the degraded banner")
	}

	degraded.Store(true)
	mustContain(t, admin.Get("/"), `id="degraded"`, "No booster is reachable")
	admin.Lang = "ja"
	mustContain(t, admin.Get("/tickets"), `id="degraded"`, "縮退モード")
	degraded.Store(false)
	if p := admin.Get("/"); strings.Contains(p.Body, `id="degraded"`) {
		t.Fatal("banner still shown after the booster came back")
	}
}
