package flow_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

var admin = &flow.Actor{UserID: 1, Username: "admin", Admin: true}

func newEngine(t *testing.T, db *store.DB) *flow.Engine {
	t.Helper()
	return flow.New(db, flow.Options{Node: "test", Hooks: flow.Hooks{JobsCommitted: func([]flow.JobRef) {}}})
}

// drain runs every due job synchronously, as the poller would.
func drain(t *testing.T, e *flow.Engine) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	for i := 0; i < 1000; i++ {
		jobs, err := e.DB().ClaimDue(ctx, e.Owner(), 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) == 0 {
			return n
		}
		for _, j := range jobs {
			e.RunJob(ctx, j)
			n++
		}
	}
	t.Fatal("jobs never ran out")
	return n
}

func importFile(t *testing.T, e *flow.Engine, path string) *flow.ImportResult {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.ImportApp(context.Background(), admin, data)
	if err != nil {
		t.Fatalf("import %s: %v", path, err)
	}
	return res
}

func openTask(t *testing.T, e *flow.Engine, ticket int64) flow.TaskView {
	t.Helper()
	v, err := e.Ticket(context.Background(), admin, ticket)
	if err != nil {
		t.Fatal(err)
	}
	if v.Error != "" {
		t.Fatalf("ticket in error: %s", v.Error)
	}
	if len(v.Tasks) != 1 {
		t.Fatalf("ticket %s has %d open tasks, want 1 (at %v)", v.No, len(v.Tasks), v.Current)
	}
	return v.Tasks[0]
}

func TestMissionFlowRunsToClosed(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEngine(t, db)
		res := importFile(t, e, "testdata/mission.json")
		if len(res.Flows) != 1 || res.Flows[0].Version != 1 || res.Flows[0].APIPath != "mission" {
			t.Fatalf("import result %+v", res)
		}
		if len(res.Unmapped) != 1 || res.Unmapped[0] != "任務處理組" {
			t.Fatalf("unmapped = %v", res.Unmapped)
		}
		filed, err := e.FileTicket(ctx, admin, "mission", map[string]any{"FORMITM_1": "プリンタ故障", "FORMITM_6": "hardware"})
		if err != nil {
			t.Fatal(err)
		}
		if filed.No != "MISSION-"+pad(filed.ID) {
			t.Fatalf("ticket no %q", filed.No)
		}
		drain(t, e)
		task := openTask(t, e, filed.ID)
		if task.NodeName != "任務分析" || task.Group != "2" {
			t.Fatalf("first task %+v", task)
		}
		v, _ := e.Ticket(ctx, admin, filed.ID)
		if v.Status != "dispatch" || v.Level != "green" || v.Title != "プリンタ故障" {
			t.Fatalf("header after first step: %+v", v)
		}
		// 任務分析 cannot change the read-only status field.
		err = e.CompleteTask(ctx, admin, task.ID, map[string]any{"FORMITM_4": "dispatch_done"}, "")
		var ie *flow.InputError
		if !errors.As(err, &ie) || !errors.Is(err, flow.ErrInvalid) || ie.Field != "FORMITM_4" {
			t.Fatalf("read-only field accepted: %v", err)
		}
		// Its quick action sets dispatch_done and moves on to 任務處理.
		step(t, e, task.ID, "action1")
		task = openTask(t, e, filed.ID)
		if task.NodeName != "任務處理" || len(task.Actions) != 2 || task.Actions[0].Text != "完成" {
			t.Fatalf("second task %+v", task)
		}
		step(t, e, task.ID, "action2") // 退回 → back to 任務分析
		task = openTask(t, e, filed.ID)
		if task.NodeName != "任務分析" {
			t.Fatalf("after 退回: %+v", task)
		}
		step(t, e, task.ID, "action1")
		step(t, e, openTask(t, e, filed.ID).ID, "action1") // 完成 → 任務審核
		task = openTask(t, e, filed.ID)
		if task.NodeName != "任務審核" {
			t.Fatalf("after 完成: %+v", task)
		}
		step(t, e, task.ID, "action1")
		v, err = e.Ticket(ctx, admin, filed.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !v.Closed || v.Status != "check_done" || len(v.Tasks) != 0 || v.ClosedAt == nil {
			t.Fatalf("ticket not closed: closed=%v status=%q tasks=%d err=%q", v.Closed, v.Status, len(v.Tasks), v.Error)
		}
		kinds := map[string]int{}
		for _, h := range v.History {
			kinds[h.Kind]++
		}
		if kinds["filed"] != 1 || kinds["completed"] != 5 || kinds["closed"] != 1 || kinds["task"] != 5 {
			t.Fatalf("history kinds %v", kinds)
		}
	})
}

func step(t *testing.T, e *flow.Engine, task int64, action string) {
	t.Helper()
	if err := e.CompleteTask(context.Background(), admin, task, nil, action); err != nil {
		t.Fatalf("complete task %d with %s: %v", task, action, err)
	}
	drain(t, e)
}

func pad(id int64) string {
	s := "000000" + itoa(id)
	return s[len(s)-6:]
}

func itoa(i int64) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestConcurrentCompletionOnlyOneWins(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEngine(t, db)
		importFile(t, e, "testdata/mission.json")
		filed, err := e.FileTicket(ctx, admin, "mission", map[string]any{"FORMITM_1": "x", "FORMITM_6": "software"})
		if err != nil {
			t.Fatal(err)
		}
		drain(t, e)
		task := openTask(t, e, filed.ID)
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = e.CompleteTask(ctx, admin, task.ID, nil, "action1")
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, flow.ErrConflict):
				t.Errorf("loser got %v, want ErrConflict", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d completions succeeded, want exactly 1", ok)
		}
	})
}

func TestRejectedImportStoresNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEngine(t, db)
		for _, f := range []string{"testdata/broken_graph.json", "testdata/broken_syntax.json"} {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.ImportApp(context.Background(), admin, data)
			if !errors.Is(err, flow.ErrInvalid) {
				t.Fatalf("%s: err %v, want ErrInvalid", f, err)
			}
		}
		apps, err := db.Apps(context.Background())
		if err != nil || len(apps) != 0 {
			t.Fatalf("apps after rejected imports: %v %v", apps, err)
		}
	})
}
