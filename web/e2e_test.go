package web

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omflow/omflow/flow"
)

// TestEndToEndWithTheEngine works the real mission app through the API on
// the real engine: import, file a ticket, complete its human steps with
// quick actions until it closes.
func TestEndToEndWithTheEngine(t *testing.T) {
	var e *env
	var eng *flow.Engine
	e = newEnv(t, func(o *Options) {
		// The wiring roles/ does: metrics first, so the engine gets StepDone.
		o.Registry = prometheus.NewRegistry()
		m, err := NewMetrics(o.Registry)
		if err != nil {
			t.Fatal(err)
		}
		o.Metrics = m
		eng = flow.New(o.DB, flow.Options{Node: "web-test", Poll: true, Workers: 2, Hooks: flow.Hooks{StepDone: m.StepDone}})
		o.Engine = eng
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer eng.Stop()

	data, err := os.ReadFile("../flow/testdata/mission.json")
	if err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/api/v1/apps/import", e.adminToken, data)
	if r.Code != 201 {
		t.Fatalf("import: %d %s", r.Code, r.Body)
	}
	if r := e.do("POST", "/api/v1/apps/import", e.userToken, data); r.Code != 403 {
		t.Fatalf("import as a user: %d %s", r.Code, r.Body)
	}
	r = e.do("POST", "/api/v1/flows/mission/tickets", e.adminToken, map[string]any{"fields": map[string]any{"FORMITM_1": "プリンタ故障", "FORMITM_6": "hardware"}})
	if r.Code != 201 {
		t.Fatalf("file: %d %s", r.Code, r.Body)
	}
	id := int64(r.json()["id"].(float64))

	openTask := func() map[string]any {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			r := e.do("GET", fmt.Sprintf("/api/v1/tickets/%d", id), e.adminToken, nil)
			if r.Code != 200 {
				t.Fatalf("ticket: %d %s", r.Code, r.Body)
			}
			v := r.json()
			if v["error"] != "" {
				t.Fatalf("ticket in error: %v", v["error"])
			}
			if tasks, _ := v["tasks"].([]any); len(tasks) == 1 {
				return tasks[0].(map[string]any)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("no open task appeared")
		return nil
	}
	complete := func(task map[string]any, action string, fields map[string]any) resp {
		return e.do("POST", fmt.Sprintf("/api/v1/tasks/%d/complete", int64(task["id"].(float64))), e.adminToken,
			map[string]any{"fields": fields, "action": action})
	}

	task := openTask()
	if task["node_name"] != "任務分析" {
		t.Fatalf("first task %v", task)
	}
	// A read-only field is refused with 422 naming it.
	r = complete(task, "", map[string]any{"FORMITM_4": "dispatch_done"})
	if _, _, f := r.errBody(); r.Code != 422 || f != "FORMITM_4" {
		t.Fatalf("read-only field: %d %s", r.Code, r.Body)
	}
	// The task is in the admin's full inbox.
	r = e.do("GET", "/api/v1/tasks?all=1", e.adminToken, nil)
	if !strings.Contains(r.Body.String(), "任務分析") {
		t.Fatalf("tasks?all=1: %s", r.Body)
	}
	for _, want := range []string{"任務分析", "任務處理", "任務審核"} {
		task = openTask()
		if task["node_name"] != want {
			t.Fatalf("task at %v, want %s", task["node_name"], want)
		}
		if r := complete(task, "action1", nil); r.Code != 200 {
			t.Fatalf("complete %s: %d %s", want, r.Code, r.Body)
		}
		// Completing it again: someone (we) already did.
		if r := complete(task, "action1", nil); r.Code != 409 && r.Code != 404 && r.Code != 403 {
			t.Fatalf("second completion of %s: %d %s", want, r.Code, r.Body)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		v := e.do("GET", fmt.Sprintf("/api/v1/tickets/%d", id), e.adminToken, nil).json()
		if v["closed"] == true {
			if v["status"] != "check_done" {
				t.Fatalf("closed with status %v", v["status"])
			}
			break
		}
		if time.Now().After(deadline) {
			b, _ := json.Marshal(v)
			t.Fatalf("ticket never closed: %s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r = e.do("GET", "/api/v1/tickets?flow=mission&closed=true", e.adminToken, nil)
	if r.Code != 200 || r.json()["total"] != float64(1) {
		t.Fatalf("closed list: %d %s", r.Code, r.Body)
	}
	m := e.do("GET", "/metrics", "", nil).Body.String()
	if !strings.Contains(m, "omflow_tickets_filed_total 1") || !strings.Contains(m, `omflow_step_duration_seconds_count{kind="step"}`) {
		t.Fatalf("ticket or steps not counted:\n%s", m)
	}
}
