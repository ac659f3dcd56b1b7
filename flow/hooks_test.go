package flow_test

import (
	"context"
	"encoding/json"
	"os"
	"sync"
	"testing"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

// hookLog records the task hooks' calls.
type hookLog struct {
	mu       sync.Mutex
	assigned []flow.TaskView
	closed   []flow.TaskView
}

func (h *hookLog) engine(db *store.DB) *flow.Engine {
	return flow.New(db, flow.Options{Node: "test", Hooks: flow.Hooks{
		JobsCommitted: func([]flow.JobRef) {},
		TaskAssigned: func(t flow.TaskView) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.assigned = append(h.assigned, t)
		},
		TaskClosed: func(t flow.TaskView) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.closed = append(h.closed, t)
		},
	}})
}

func (h *hookLog) take() (assigned, closed []flow.TaskView) {
	h.mu.Lock()
	defer h.mu.Unlock()
	assigned, closed = h.assigned, h.closed
	h.assigned, h.closed = nil, nil
	return assigned, closed
}

func TestTaskClosedHookOnCompletion(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		h := &hookLog{}
		e := h.engine(db)
		importFile(t, e, "testdata/mission.json")
		filed, err := e.FileTicket(ctx, admin, "mission", map[string]any{"FORMITM_1": "プリンタ故障", "FORMITM_6": "hardware"})
		if err != nil {
			t.Fatal(err)
		}
		drain(t, e)
		task := openTask(t, e, filed.ID)
		if assigned, closed := h.take(); len(assigned) != 1 || assigned[0].ID != task.ID || len(closed) != 0 {
			t.Fatalf("after filing: assigned %+v, closed %+v", assigned, closed)
		}
		step(t, e, task.ID, "action1")
		assigned, closed := h.take()
		if len(closed) != 1 {
			t.Fatalf("one completion gave %d TaskClosed calls: %+v", len(closed), closed)
		}
		c := closed[0]
		if c.ID != task.ID || c.State != store.TaskDone || c.TicketID != filed.ID || c.TicketNo != filed.No || c.Group != task.Group || c.NodeName != task.NodeName {
			t.Fatalf("closed task %+v, want task %d (%s, group %q) done", c, task.ID, task.NodeName, task.Group)
		}
		next := openTask(t, e, filed.ID)
		if len(assigned) != 1 || assigned[0].ID != next.ID {
			t.Fatalf("after completion: assigned %+v, want task %d", assigned, next.ID)
		}
		// A refused completion closes nothing.
		if err := e.CompleteTask(ctx, admin, task.ID, nil, "action1"); err == nil {
			t.Fatal("completing a finished task again succeeded")
		}
		if _, closed := h.take(); len(closed) != 0 {
			t.Fatalf("refused completion reported closed tasks %+v", closed)
		}
	})
}

// twoForms is the race flow of testdata/nodes.json with a second form on
// the branch that ends: async → 慢 (form) → end ‖ 快 (form) → end.
func twoForms(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/nodes.json")
	if err != nil {
		t.Fatal(err)
	}
	var app map[string]any
	if err := json.Unmarshal(data, &app); err != nil {
		t.Fatal(err)
	}
	for _, f := range app["flows"].([]any) {
		f := f.(map[string]any)
		if f["api_path"] != "race" {
			continue
		}
		f["api_path"], f["flow_name"] = "twoforms", "二つの様式"
		fo := f["flowobject"].(map[string]any)
		items := fo["items"].([]any)
		for _, it := range items {
			it := it.(map[string]any)
			if it["id"] == "FLINE_3" {
				it["config"].(map[string]any)["target_item"] = "FITEM_5"
			}
		}
		fo["items"] = append(items,
			map[string]any{"id": "FITEM_5", "type": "form", "text": "快", "config": map[string]any{"input": []any{}}},
			map[string]any{"id": "FLINE_5", "type": "line", "config": map[string]any{"source_item": "FITEM_5", "target_item": "FITEM_4"}})
		out, err := json.Marshal(map[string]any{"app": map[string]any{"name": "二つの様式"}, "flows": []any{f}})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Fatal("testdata/nodes.json has no race flow")
	return nil
}

// Completing one of two open tasks closes the ticket: the other task is
// reported closed too, as cancelled.
func TestTaskClosedHookOnCancel(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		h := &hookLog{}
		e := h.engine(db)
		if _, err := e.ImportApp(ctx, admin, twoForms(t)); err != nil {
			t.Fatal(err)
		}
		id := file(t, e, admin, "twoforms", nil)
		drain(t, e)
		assigned, closed := h.take()
		if len(assigned) != 2 || len(closed) != 0 {
			t.Fatalf("after filing: assigned %+v, closed %+v", assigned, closed)
		}
		fast, slow := assigned[0], assigned[1]
		if fast.NodeName != "快" {
			fast, slow = slow, fast
		}
		complete(t, e, admin, fast.ID, nil, "")
		drain(t, e)
		if v := view(t, e, id); !v.Closed {
			t.Fatalf("ticket not closed\n%s", history(v))
		}
		assigned, closed = h.take()
		if len(assigned) != 0 || len(closed) != 2 {
			t.Fatalf("after completing 快: assigned %+v, closed %+v", assigned, closed)
		}
		states := map[int64]string{closed[0].ID: closed[0].State, closed[1].ID: closed[1].State}
		if states[fast.ID] != store.TaskDone || states[slow.ID] != store.TaskCancelled {
			t.Fatalf("closed %+v: want %d done and %d cancelled", closed, fast.ID, slow.ID)
		}
	})
}

// A task made and cancelled by the same run was never reported assigned,
// and is not reported closed.
func TestTaskClosedHookSkipsUnannouncedTasks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h := &hookLog{}
		e := h.engine(db)
		importFile(t, e, "testdata/nodes.json")
		id := file(t, e, admin, "race", nil)
		drain(t, e)
		if v := view(t, e, id); !v.Closed || events(v, "task", "FITEM_3") != 1 {
			t.Fatalf("race ticket: closed %v\n%s", v.Closed, history(v))
		}
		if assigned, closed := h.take(); len(assigned) != 0 || len(closed) != 0 {
			t.Fatalf("assigned %+v, closed %+v", assigned, closed)
		}
	})
}
