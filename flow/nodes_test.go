package flow_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/flow/script"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

// Tests of every node type. testdata/nodes.json holds one small flow per
// behaviour (see its flow names); features.json is a designer export using
// every node type at once.

func file(t *testing.T, e *flow.Engine, a *flow.Actor, path string, fields map[string]any) int64 {
	t.Helper()
	f, err := e.FileTicket(context.Background(), a, path, fields)
	if err != nil {
		t.Fatalf("file ticket in %s: %v", path, err)
	}
	return f.ID
}

func view(t *testing.T, e *flow.Engine, id int64) *flow.TicketView {
	t.Helper()
	v, err := e.Ticket(context.Background(), admin, id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// events counts a ticket's history entries of kind at node ("" = any).
func events(v *flow.TicketView, kind, node string) int {
	n := 0
	for _, h := range v.History {
		if (kind == "" || h.Kind == kind) && (node == "" || h.NodeID == node) {
			n++
		}
	}
	return n
}

// onePerNode fails unless every node in want has exactly one history entry,
// of the given kind.
func onePerNode(t *testing.T, v *flow.TicketView, want map[string]string) {
	t.Helper()
	for node, kind := range want {
		if n := events(v, "", node); n != 1 || events(v, kind, node) != 1 {
			t.Errorf("node %s: %d history entries (%d of kind %q), want exactly one %q\n%s", node, n, events(v, kind, node), kind, kind, history(v))
		}
	}
}

func history(v *flow.TicketView) string {
	var b strings.Builder
	for _, h := range v.History {
		fmt.Fprintf(&b, "  %-9s %-22s %s %s\n", h.Kind, h.NodeID, h.NodeName, h.Message)
	}
	return b.String()
}

func jobsLeft(t *testing.T, db *store.DB) map[string]int64 {
	t.Helper()
	c, err := db.JobCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func noJobs(t *testing.T, db *store.DB) {
	t.Helper()
	if c := jobsLeft(t, db); c[store.JobReady]+c[store.JobLeased]+c[store.JobFailed] != 0 {
		t.Fatalf("jobs left: %v", c)
	}
}

// user creates a user in the given groups and roles and returns its actor,
// built as the web layer builds it.
func user(t *testing.T, db *store.DB, name string, groups []int64, roles []int64) *flow.Actor {
	t.Helper()
	ctx := context.Background()
	u := &store.User{Username: name}
	if err := db.CreateUser(ctx, u, "password-"+name); err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if err := db.AddGroupMember(ctx, g, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range roles {
		if err := db.AddRoleMember(ctx, r, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	a := &flow.Actor{UserID: u.ID, Username: u.Username, Name: u.Username}
	gs, err := db.UserGroups(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		a.Groups = append(a.Groups, flow.ActorGroup{ID: g.ID, Name: g.Name})
	}
	rs, err := db.UserRoles(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	a.Roles = append([]string{"user"}, rs...)
	return a
}

func complete(t *testing.T, e *flow.Engine, a *flow.Actor, task int64, fields map[string]any, action string) {
	t.Helper()
	if err := e.CompleteTask(context.Background(), a, task, fields, action); err != nil {
		t.Fatalf("complete task %d: %v", task, err)
	}
	drain(t, e)
}

func TestFeaturesFlowRunsEveryNodeType(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEngine(t, db)
		// The flow sleeps 1.5 s and then a minute; set timers an hour back
		// so they are due at once.
		flow.SetSleepClock(e, func() time.Time { return db.Now().Add(-time.Hour) })
		importFile(t, e, "testdata/features.json")
		id := file(t, e, admin, "features", map[string]any{"FORMITM_1": "機能", "FORMITM_2": "200"})
		drain(t, e)
		v := view(t, e, id)
		if v.Error != "" {
			t.Fatalf("error: %s\n%s", v.Error, history(v))
		}
		// start: bare-name input amount and $(wait); setform; python.
		if v.Vars["amount"] != "200" || v.Vars["wait"] != "1500" || v.Vars["fee"] != 10.0 {
			t.Fatalf("variables after start and python: %v", v.Vars)
		}
		if !strings.Contains(fmt.Sprint(v.Fields["FORMITM_7"]), `"fee"`) {
			t.Fatalf("python output to #(FORMITM_7): %v", v.Fields["FORMITM_7"])
		}
		if v.Status != "processing" || v.Group != "ops" {
			t.Fatalf("setform: status %q group %q", v.Status, v.Group)
		}
		// async: one branch waits at the form, the other (timers due)
		// waits at the collection.
		task := openTask(t, e, id)
		if task.NodeID != "FITEM_5" || len(task.Actions) != 1 || task.Actions[0].Text != "確認" {
			t.Fatalf("task %+v", task)
		}
		if cur := slices.Sorted(slices.Values(v.Current)); !slices.Equal(cur, []string{"FITEM_5", "FITEM_8"}) {
			t.Fatalf("current %v, want FITEM_5 and FITEM_8\n%s", v.Current, history(v))
		}
		complete(t, e, admin, task.ID, nil, "action1")
		v = view(t, e, id)
		if !v.Closed || v.Error != "" {
			t.Fatalf("not closed: closed=%v error=%q current=%v\n%s", v.Closed, v.Error, v.Current, history(v))
		}
		// subflow set sub_done after the join; switch took fee <= 100 to
		// the end; end outputs are variables.
		if v.Status != "sub_done" || v.Level != "green" {
			t.Fatalf("status %q level %q", v.Status, v.Level)
		}
		if v.Vars["result"] != v.Fields["FORMITM_7"] || v.Vars["fee"] != 10.0 {
			t.Fatalf("end outputs: %v", v.Vars)
		}
		onePerNode(t, v, map[string]string{
			"FITEM_1": "step", "FITEM_2": "step", "FITEM_3": "step", "FITEM_4": "step",
			"FITEM_6": "step", "FITEM_7": "step", "FITEM_9": "step", "FITEM_9/FITEM_1": "step",
			"FITEM_9/FITEM_2": "step", "FITEM_9/FITEM_3": "step", "FITEM_10": "step", "FITEM_12": "closed",
		})
		if events(v, "filed", "") != 1 || events(v, "task", "FITEM_5") != 1 || events(v, "completed", "FITEM_5") != 1 || events(v, "step", "FITEM_8") != 2 || events(v, "", "FITEM_11") != 0 {
			t.Fatalf("history:\n%s", history(v))
		}
		noJobs(t, db)

		// A large amount takes the other switch rule (fee > 100).
		id = file(t, e, admin, "features", map[string]any{"FORMITM_1": "big", "FORMITM_2": "3000"})
		drain(t, e)
		complete(t, e, admin, openTask(t, e, id).ID, nil, "action1")
		v = view(t, e, id)
		if !v.Closed || v.Level != "red" || v.Vars["fee"] != 150.0 {
			t.Fatalf("big amount: closed=%v level=%q vars=%v\n%s", v.Closed, v.Level, v.Vars, history(v))
		}
	})
}

func TestPythonNode(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEngine(t, db)
		importFile(t, e, "testdata/nodes.json")
		ok := file(t, e, admin, "py", map[string]any{"FORMITM_2": "10"})
		bad := file(t, e, admin, "py", map[string]any{"FORMITM_2": "60"})
		empty := file(t, e, admin, "py", nil)
		drain(t, e)

		v := view(t, e, ok)
		if v.Vars["x"] != "10" || v.Vars["doubled"] != 20.0 || v.Fields["FORMITM_5"] != "v=20" {
			t.Fatalf("python input/output: vars %v fields %v\n%s", v.Vars, v.Fields, history(v))
		}
		complete(t, e, admin, openTask(t, e, ok).ID, nil, "")
		v = view(t, e, ok)
		if !v.Closed || v.Vars["result"] != 20.0 || v.Vars["note"] != "v=20" {
			t.Fatalf("end outputs: closed=%v vars=%v", v.Closed, v.Vars)
		}

		// A script error halts the ticket with the script's message and
		// line; one history entry says so; nothing runs after it.
		v = view(t, e, bad)
		for _, s := range []string{"FITEM_2", "計算", "line 4", "too big: 120"} {
			if !strings.Contains(v.Error, s) {
				t.Errorf("ticket error %q does not mention %q", v.Error, s)
			}
		}
		if events(v, "", "FITEM_2") != 1 || events(v, "error", "FITEM_2") != 1 || events(v, "", "FITEM_3") != 0 || len(v.Tasks) != 0 || v.Closed {
			t.Fatalf("halted ticket:\n%s", history(v))
		}
		for _, h := range v.History {
			if h.Kind == "error" && h.Message != v.Error {
				t.Errorf("error entry %q, ticket error %q", h.Message, v.Error)
			}
		}
		// A required start input that is empty halts at the start node.
		v = view(t, e, empty)
		if !strings.Contains(v.Error, "FITEM_1") || !strings.Contains(v.Error, "x") || events(v, "error", "FITEM_1") != 1 {
			t.Fatalf("empty required input: error %q\n%s", v.Error, history(v))
		}
		noJobs(t, db)
	})
}

// switchApp builds one flow per operator: start → switch (#(FORMITM_1) op
// value2 → end) → end. When the rule does not hold the ticket halts.
func switchApp(ops map[string]string) []byte {
	type m = map[string]any
	var flows []any
	i := 0
	for op, v2 := range ops {
		i++
		flows = append(flows, m{
			"flow_name": "switch " + op, "api_path": fmt.Sprintf("sw%d", i),
			"formobject": m{"items": []any{m{"id": "FORMITM_1", "type": "inputbox", "config": m{"title": "v"}}}},
			"flowobject": m{"items": []any{
				m{"id": "FITEM_1", "type": "start", "text": "開始", "config": m{}},
				m{"id": "FITEM_2", "type": "switch", "text": "判斷", "config": m{"rules": []any{
					m{"value1": "#(FORMITM_1)", "rule": op, "value2": v2, "target": "FITEM_3"}}}},
				m{"id": "FITEM_3", "type": "end", "text": "結束", "config": m{}},
				m{"id": "FLINE_1", "type": "line", "config": m{"source_item": "FITEM_1", "target_item": "FITEM_2"}},
				m{"id": "FLINE_2", "type": "line", "config": m{"source_item": "FITEM_2", "target_item": "FITEM_3"}},
			}},
		})
	}
	b, _ := json.Marshal(m{"app": m{"name": "switches"}, "flows": flows})
	return b
}

func TestSwitchOperators(t *testing.T) {
	t.Parallel()
	ops := map[string]string{"=": "1.0", "!=": "abc", ">": "9", "<": "9", ">=": "10", "<=": "10",
		"contains": "bc", "not contains": "bc", "empty": "", "not empty": ""}
	cases := []struct {
		op, v1 string
		holds  bool
	}{
		{"=", "1", true}, {"=", "1.5", false}, {"=", "abc", false},
		{"!=", "abc", false}, {"!=", "abd", true},
		{">", "10", true}, {">", "8", false}, {">", "b", true}, // numbers as numbers, else text
		{"<", "10", false}, {"<", "8.5", true},
		{">=", "10.0", true}, {">=", "9.99", false},
		{"<=", "10", true}, {"<=", "11", false},
		{"contains", "abcd", true}, {"contains", "acbd", false},
		{"not contains", "abcd", false}, {"not contains", "xyz", true},
		{"empty", "", true}, {"empty", "x", false},
		{"not empty", "", false}, {"not empty", "x", true},
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEngine(t, db)
		res, err := e.ImportApp(context.Background(), admin, switchApp(ops))
		if err != nil {
			t.Fatal(err)
		}
		path := map[string]string{}
		for _, f := range res.Flows {
			path[strings.TrimPrefix(f.Name, "switch ")] = f.APIPath
		}
		ids := make([]int64, len(cases))
		for i, c := range cases {
			ids[i] = file(t, e, admin, path[c.op], map[string]any{"FORMITM_1": c.v1})
		}
		drain(t, e)
		for i, c := range cases {
			v := view(t, e, ids[i])
			switch {
			case c.holds && (!v.Closed || v.Error != ""):
				t.Errorf("%q %s %q should hold: closed=%v error=%q", c.v1, c.op, ops[c.op], v.Closed, v.Error)
			case c.holds && events(v, "step", "FITEM_2") != 1:
				t.Errorf("%q %s %q: switch history:\n%s", c.v1, c.op, ops[c.op], history(v))
			case !c.holds && (v.Closed || !strings.Contains(v.Error, "FITEM_2 (判斷)") || !strings.Contains(v.Error, "no rule holds")):
				t.Errorf("%q %s %q should not hold: closed=%v error=%q", c.v1, c.op, ops[c.op], v.Closed, v.Error)
			case !c.holds && (events(v, "error", "FITEM_2") != 1 || events(v, "", "FITEM_2") != 1):
				t.Errorf("%q %s %q: switch history:\n%s", c.v1, c.op, ops[c.op], history(v))
			}
		}
		noJobs(t, db)
	})
}

func TestJoinWaitsForEveryBranch(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEngine(t, db)
		importFile(t, e, "testdata/nodes.json")
		id := file(t, e, admin, "join", nil)
		drain(t, e)
		// Two branches reach the same form through lines from one node
		// (two tasks); a third went straight to the collection.
		v := view(t, e, id)
		if len(v.Tasks) != 2 || v.Tasks[0].NodeID != "FITEM_5" || v.Tasks[1].NodeID != "FITEM_5" {
			t.Fatalf("want two tasks at FITEM_5, got %+v\n%s", v.Tasks, history(v))
		}
		complete(t, e, admin, v.Tasks[0].ID, nil, "")
		v2 := view(t, e, id)
		if v2.Closed || len(v2.Tasks) != 1 || v2.Status == "joined" {
			t.Fatalf("join went on after one of two branches: closed=%v tasks=%d status=%q\n%s", v2.Closed, len(v2.Tasks), v2.Status, history(v2))
		}
		complete(t, e, admin, v.Tasks[1].ID, nil, "")
		v = view(t, e, id)
		if !v.Closed || v.Status != "joined" || v.Error != "" {
			t.Fatalf("after both branches: closed=%v status=%q error=%q\n%s", v.Closed, v.Status, v.Error, history(v))
		}
		onePerNode(t, v, map[string]string{"FITEM_2": "step", "FITEM_3": "step", "FITEM_4": "step", "FITEM_7": "step", "FITEM_8": "closed"})
		if events(v, "step", "FITEM_6") != 3 {
			t.Fatalf("collection entered %d times, want 3\n%s", events(v, "step", "FITEM_6"), history(v))
		}
		noJobs(t, db)
	})
}

func TestEndClosesWithOpenBranch(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEngine(t, db)
		importFile(t, e, "testdata/nodes.json")
		id := file(t, e, admin, "race", nil)
		drain(t, e)
		v := view(t, e, id)
		if !v.Closed || len(v.Tasks) != 0 || len(v.Current) != 0 {
			t.Fatalf("closed=%v tasks=%+v current=%v\n%s", v.Closed, v.Tasks, v.Current, history(v))
		}
		all, err := e.Tasks(context.Background(), admin, true)
		if err != nil || len(all) != 0 {
			t.Fatalf("open tasks of a closed ticket: %+v %v", all, err)
		}
		noJobs(t, db)
	})
}

func TestNestedSubflows(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEngine(t, db)
		importFile(t, e, "testdata/nodes.json")
		id := file(t, e, admin, "nest", nil)
		drain(t, e)
		task := openTask(t, e, id)
		v := view(t, e, id)
		if task.NodeID != "FITEM_2/FITEM_2/FITEM_3" || task.NodeName != "內確認" || v.Status != "inner" || v.Vars["depth"] != "2" {
			t.Fatalf("inner task %+v status %q vars %v\n%s", task, v.Status, v.Vars, history(v))
		}
		complete(t, e, admin, task.ID, nil, "")
		task = openTask(t, e, id)
		v = view(t, e, id)
		if task.NodeID != "FITEM_3" || v.Fields["FORMITM_5"] != "after-inner" || v.Vars["deep"] != "yes" || v.Vars["from_inner"] != "yes" {
			t.Fatalf("after the subflows: task %+v fields %v vars %v\n%s", task, v.Fields, v.Vars, history(v))
		}
		complete(t, e, admin, task.ID, nil, "")
		v = view(t, e, id)
		if !v.Closed {
			t.Fatalf("not closed\n%s", history(v))
		}
		onePerNode(t, v, map[string]string{
			"FITEM_1": "step", "FITEM_2": "step", "FITEM_2/FITEM_1": "step", "FITEM_2/FITEM_2": "step",
			"FITEM_2/FITEM_2/FITEM_1": "step", "FITEM_2/FITEM_2/FITEM_2": "step", "FITEM_2/FITEM_2/FITEM_4": "step",
			"FITEM_2/FITEM_3": "step", "FITEM_2/FITEM_4": "step", "FITEM_4": "closed",
		})
		noJobs(t, db)
	})
}

func TestSleepIsADurableTimer(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEngine(t, db)
		importFile(t, e, "testdata/nodes.json")
		before := db.Now()
		id := file(t, e, admin, "sleep", map[string]any{"FORMITM_2": "600"})
		bad := file(t, e, admin, "sleep", map[string]any{"FORMITM_2": "soon"})
		drain(t, e)
		after := db.Now()
		v := view(t, e, id)
		if len(v.Tasks) != 0 || !slices.Equal(v.Current, []string{"FITEM_2"}) || events(v, "step", "FITEM_2") != 1 {
			t.Fatalf("asleep: tasks %v current %v\n%s", v.Tasks, v.Current, history(v))
		}
		at, err := db.NextRunAt(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if at.Before(before.Add(600*time.Millisecond)) || at.After(after.Add(600*time.Millisecond)) {
			t.Fatalf("timer due at %v, want 600ms after the step ran (between %v and %v)", at, before, after)
		}
		if n := drain(t, e); n != 0 {
			t.Fatalf("%d jobs ran before the timer was due", n)
		}
		time.Sleep(time.Until(at) + 50*time.Millisecond)
		if n := drain(t, e); n != 1 {
			t.Fatalf("%d jobs ran after the timer fell due, want 1", n)
		}
		if task := openTask(t, e, id); task.NodeID != "FITEM_3" {
			t.Fatalf("after the timer: %+v", task)
		}
		v = view(t, e, bad)
		if !strings.Contains(v.Error, "FITEM_2 (等待)") || !strings.Contains(v.Error, "soon") || events(v, "error", "FITEM_2") != 1 {
			t.Fatalf("bad wait: %q\n%s", v.Error, history(v))
		}
		noJobs(t, db)
	})
}

func TestSleepUntilUsesEngineLocation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := flow.New(db, flow.Options{Node: "test", Location: time.FixedZone("JST", 9*3600),
			Hooks: flow.Hooks{JobsCommitted: func([]flow.JobRef) {}}})
		importFile(t, e, "testdata/nodes.json")
		id := file(t, e, admin, "until", map[string]any{"FORMITM_2": "2000-01-01 09:00"})
		drain(t, e)
		v := view(t, e, id)
		found := false
		for _, h := range v.History {
			found = found || (h.NodeID == "FITEM_2" && strings.Contains(h.Message, "2000-01-01T00:00:00Z"))
		}
		if !found {
			t.Fatalf("sleep until a zone-less time is not read in the engine's location:\n%s", history(v))
		}
		if task := openTask(t, e, id); task.NodeID != "FITEM_3" {
			t.Fatalf("a time in the past should wake at once: %+v", task)
		}
		// Times out of every database's range: long past wakes at once,
		// far future halts naming the node.
		past := file(t, e, admin, "until", map[string]any{"FORMITM_2": "0001-01-01"})
		future := file(t, e, admin, "until", map[string]any{"FORMITM_2": "9999-12-31 23:59"})
		drain(t, e)
		if task := openTask(t, e, past); task.NodeID != "FITEM_3" {
			t.Fatalf("year 1: %+v", task)
		}
		if v := view(t, e, future); !strings.Contains(v.Error, "FITEM_2 (等到)") || !strings.Contains(v.Error, "100 years") {
			t.Fatalf("year 9999: error %q\n%s", v.Error, history(v))
		}
		noJobs(t, db)
	})
}

func TestGroupAndUserAssignment(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEngine(t, db)
		importFile(t, e, "testdata/nodes.json")
		ops := &store.Group{Name: "ops"}
		if err := db.CreateGroup(ctx, ops); err != nil {
			t.Fatal(err)
		}
		alice := user(t, db, "alice", nil, nil)
		bob := user(t, db, "bob", []int64{ops.ID}, nil)
		carol := user(t, db, "carol", nil, nil)
		id := file(t, e, admin, "assign", map[string]any{"FORMITM_2": "alice"})
		nobody := file(t, e, admin, "assign", map[string]any{"FORMITM_2": "nosuchuser"})
		drain(t, e)
		task := openTask(t, e, id)
		if task.Group != "ops" || task.AssigneeID == nil || *task.AssigneeID != alice.UserID {
			t.Fatalf("task %+v, want group ops and assignee %d", task, alice.UserID)
		}
		if v := view(t, e, id); v.Assignee != "alice" || v.Group != "ops" {
			t.Fatalf("ticket assignee %q group %q", v.Assignee, v.Group)
		}
		if other := openTask(t, e, nobody); other.AssigneeID != nil || other.Group != "ops" {
			t.Fatalf("unknown user: %+v", other)
		}
		has := func(a *flow.Actor, task int64) bool {
			ts, err := e.Tasks(ctx, a, false)
			if err != nil {
				t.Fatal(err)
			}
			return slices.ContainsFunc(ts, func(v flow.TaskView) bool { return v.ID == task })
		}
		if !has(alice, task.ID) || !has(bob, task.ID) || has(carol, task.ID) {
			t.Fatalf("inboxes: alice %v bob %v carol %v", has(alice, task.ID), has(bob, task.ID), has(carol, task.ID))
		}
		if _, err := e.Tasks(ctx, carol, true); !errors.Is(err, flow.ErrForbidden) {
			t.Fatalf("all tasks for a non-admin: %v", err)
		}
		if _, err := e.Task(ctx, carol, task.ID); !errors.Is(err, flow.ErrForbidden) {
			t.Fatalf("carol opens the task: %v", err)
		}
		if err := e.CompleteTask(ctx, carol, task.ID, nil, ""); !errors.Is(err, flow.ErrForbidden) {
			t.Fatalf("carol completes the task: %v", err)
		}
		complete(t, e, bob, task.ID, nil, "")
		if v := view(t, e, id); !v.Closed {
			t.Fatalf("not closed after bob completed")
		}
		// alice is the assignee of the second ticket? No: nobody is, so
		// only group members and admins may work it.
		if err := e.CompleteTask(ctx, alice, openTask(t, e, nobody).ID, nil, ""); !errors.Is(err, flow.ErrForbidden) {
			t.Fatalf("alice completes a task that is not hers: %v", err)
		}
	})
}

func TestFlowPermissions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEngine(t, db)
		importFile(t, e, "testdata/nodes.json")
		role, err := db.CreateRole(ctx, "審核者")
		if err != nil {
			t.Fatal(err)
		}
		e.Invalidate()
		dora := user(t, db, "dora", nil, []int64{role.ID})
		eve := user(t, db, "eve", nil, nil)

		canStart := func(a *flow.Actor, path string) bool {
			fs, err := e.Flows(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			return slices.ContainsFunc(fs, func(f flow.FlowInfo) bool { return f.APIPath == path && f.CanStart })
		}
		if !canStart(dora, "guarded") || canStart(eve, "guarded") || !canStart(eve, "py") {
			t.Fatalf("flows to start: dora guarded %v, eve guarded %v, eve py %v", canStart(dora, "guarded"), canStart(eve, "guarded"), canStart(eve, "py"))
		}
		id := file(t, e, dora, "guarded", nil)
		if _, err := e.Ticket(ctx, dora, id); err != nil {
			t.Fatalf("dora sees her ticket: %v", err)
		}
		if _, err := e.FileTicket(ctx, eve, "guarded", nil); !errors.Is(err, flow.ErrForbidden) {
			t.Fatalf("eve files in guarded: %v", err)
		}
		if _, err := e.Ticket(ctx, eve, id); !errors.Is(err, flow.ErrForbidden) {
			t.Fatalf("eve sees dora's ticket: %v", err)
		}
		page, err := e.Tickets(ctx, eve, flow.TicketFilter{})
		if err != nil || page.Total != 0 {
			t.Fatalf("eve's ticket list: %+v %v", page, err)
		}
		// A flow without permission entries is open to every user.
		own := file(t, e, eve, "py", map[string]any{"FORMITM_2": "1"})
		if _, err := e.Ticket(ctx, eve, own); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Ticket(ctx, dora, own); err != nil {
			t.Fatalf("dora sees a ticket of an open flow: %v", err)
		}
	})
}

func TestVersions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEngine(t, db)
		data, err := os.ReadFile("testdata/nodes.json")
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.ImportApp(ctx, admin, data)
		if err != nil {
			t.Fatal(err)
		}
		var flowID int64
		for _, f := range res.Flows {
			if f.APIPath == "py" {
				flowID = f.ID
			}
		}
		old := file(t, e, admin, "py", map[string]any{"FORMITM_2": "1"})
		drain(t, e)

		// Rename the form step of py: a new version of that flow only.
		res, err = e.ImportApp(ctx, admin, renameNode(t, data, "py", "FITEM_3", "確認v2"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range res.Flows {
			if want := f.APIPath == "py"; f.Changed != want || (f.Version == 2) != want {
				t.Fatalf("reimport: %+v", f)
			}
		}
		oldTask := openTask(t, e, old)
		if v := view(t, e, old); v.Version != 1 || oldTask.NodeName != "確認" {
			t.Fatalf("old ticket moved to version %d, task %q", v.Version, oldTask.NodeName)
		}
		fresh := file(t, e, admin, "py", map[string]any{"FORMITM_2": "1"})
		drain(t, e)
		if v := view(t, e, fresh); v.Version != 2 || openTask(t, e, fresh).NodeName != "確認v2" {
			t.Fatalf("new ticket on version %d", v.Version)
		}
		complete(t, e, admin, oldTask.ID, nil, "")
		if v := view(t, e, old); !v.Closed || v.Version != 1 {
			t.Fatalf("old ticket: closed=%v version=%d error=%q", v.Closed, v.Version, v.Error)
		}

		// The same export again makes no version.
		res, err = e.ImportApp(ctx, admin, renameNode(t, data, "py", "FITEM_3", "確認v2"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range res.Flows {
			if f.Changed {
				t.Fatalf("identical reimport changed %+v", f)
			}
		}
		vs, err := e.FlowVersions(ctx, admin, flowID)
		if err != nil || len(vs) != 2 || !vs[0].Current || vs[0].Version != 2 {
			t.Fatalf("versions %+v %v", vs, err)
		}

		// Disabled: filing is a conflict; running tickets go on.
		if err := e.SetFlowEnabled(ctx, admin, flowID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.FileTicket(ctx, admin, "py", map[string]any{"FORMITM_2": "1"}); !errors.Is(err, flow.ErrConflict) {
			t.Fatalf("filing in a disabled flow: %v", err)
		}
		complete(t, e, admin, openTask(t, e, fresh).ID, nil, "")
		if !view(t, e, fresh).Closed {
			t.Fatal("a running ticket of a disabled flow stopped")
		}
		if err := e.SetFlowEnabled(ctx, admin, flowID, true); err != nil {
			t.Fatal(err)
		}

		// Publishing version 1 again: new tickets start on it.
		if err := e.PublishVersion(ctx, admin, flowID, 1); err != nil {
			t.Fatal(err)
		}
		if err := e.PublishVersion(ctx, admin, flowID, 7); !errors.Is(err, flow.ErrNotFound) {
			t.Fatalf("publishing a missing version: %v", err)
		}
		back := file(t, e, admin, "py", map[string]any{"FORMITM_2": "1"})
		drain(t, e)
		if v := view(t, e, back); v.Version != 1 || openTask(t, e, back).NodeName != "確認" {
			t.Fatalf("after publishing version 1: version %d", v.Version)
		}
	})
}

// renameNode returns the export with one node of one flow renamed.
func renameNode(t *testing.T, data []byte, path, node, name string) []byte {
	t.Helper()
	var app map[string]any
	if err := json.Unmarshal(data, &app); err != nil {
		t.Fatal(err)
	}
	for _, f := range app["flows"].([]any) {
		f := f.(map[string]any)
		if f["api_path"] != path {
			continue
		}
		for _, it := range f["flowobject"].(map[string]any)["items"].([]any) {
			if it := it.(map[string]any); it["id"] == node {
				it["text"] = name
			}
		}
	}
	b, err := json.Marshal(app)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLongAutomaticChainsContinueInNewJobs(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEngine(t, db)
		importFile(t, e, "testdata/nodes.json")
		id := file(t, e, admin, "loop", map[string]any{"FORMITM_2": "100"})
		jobs := drain(t, e)
		v := view(t, e, id)
		if !v.Closed || v.Vars["i"] != 100.0 {
			t.Fatalf("closed=%v i=%v error=%q", v.Closed, v.Vars["i"], v.Error)
		}
		// 1 start + 100 python + 100 switch + 1 end steps, at most 64 a job.
		if jobs < 4 {
			t.Fatalf("%d jobs ran 202 steps", jobs)
		}
		if events(v, "step", "FITEM_2") != 100 || events(v, "step", "FITEM_3") != 100 || events(v, "closed", "FITEM_4") != 1 {
			t.Fatalf("python ran %d times, switch %d", events(v, "step", "FITEM_2"), events(v, "step", "FITEM_3"))
		}
		noJobs(t, db)
	})
}

func TestCrashedEnginesJobIsTakenOverOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		crashed := newEngine(t, db)
		importFile(t, crashed, "testdata/nodes.json")
		id := file(t, crashed, admin, "py", map[string]any{"FORMITM_2": "5"})
		jobs, err := db.ClaimDue(ctx, crashed.Owner(), 10, time.Millisecond)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim: %v %v", jobs, err)
		}
		// The crashed engine never runs it; once the lease has run out
		// another engine takes the job over.
		other := newEngine(t, db)
		time.Sleep(5 * time.Millisecond)
		if n := drain(t, other); n != 1 {
			t.Fatalf("other engine ran %d jobs, want the taken-over one", n)
		}
		v := view(t, other, id)
		if len(v.Tasks) != 1 {
			t.Fatalf("taken-over job did not run:\n%s", history(v))
		}
		// The crashed engine comes back and runs its stale copy: nothing
		// happens twice.
		crashed.RunJob(ctx, jobs[0])
		drain(t, crashed)
		v = view(t, other, id)
		onePerNode(t, v, map[string]string{"FITEM_1": "step", "FITEM_2": "step", "FITEM_3": "task"})
		if len(v.Tasks) != 1 {
			t.Fatalf("%d open tasks", len(v.Tasks))
		}
		noJobs(t, db)
	})
}

func TestSubflowEndStopsItsOtherBranches(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEngine(t, db)
		importFile(t, e, "testdata/nodes.json")
		id := file(t, e, admin, "subfork", nil)
		drain(t, e)
		task := openTask(t, e, id) // only the step after the subflow
		if task.NodeID != "FITEM_3" {
			t.Fatalf("task %+v", task)
		}
		v := view(t, e, id)
		if !slices.Equal(v.Current, []string{"FITEM_3"}) || events(v, "step", "FITEM_2/FITEM_4") != 1 || events(v, "task", "FITEM_2/FITEM_3") != 1 {
			t.Fatalf("current %v\n%s", v.Current, history(v))
		}
		complete(t, e, admin, task.ID, nil, "")
		if v := view(t, e, id); !v.Closed {
			t.Fatalf("not closed\n%s", history(v))
		}
		noJobs(t, db)
	})
}

func TestShutdownDoesNotHaltAScript(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := flow.New(db, flow.Options{Node: "test", Hooks: flow.Hooks{JobsCommitted: func([]flow.JobRef) {}},
			ScriptLimits: script.Limits{MaxSteps: 1 << 62, Timeout: time.Minute}})
		importFile(t, e, "testdata/nodes.json")
		id := file(t, e, admin, "spin", nil)
		jobs, err := db.ClaimDue(context.Background(), e.Owner(), 10, time.Minute)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim: %v %v", jobs, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		e.RunJob(ctx, jobs[0]) // the script spins until the context ends
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("the script ran %v after the context ended", d)
		}
		v := view(t, e, id)
		if v.Error != "" || events(v, "", "FITEM_2") != 0 {
			t.Fatalf("shutdown halted the ticket: %q\n%s", v.Error, history(v))
		}
		// The job is still there for another node (Stop hands it back).
		if n, err := db.ReleaseOwner(context.Background(), e.Owner()); err != nil || n != 1 {
			t.Fatalf("released %d jobs: %v", n, err)
		}
		// Without a shutdown the step budget stops the script and halts
		// the ticket, naming the limit.
		e = flow.New(db, flow.Options{Node: "test", Hooks: flow.Hooks{JobsCommitted: func([]flow.JobRef) {}},
			ScriptLimits: script.Limits{MaxSteps: 10000}})
		drain(t, e)
		if v := view(t, e, id); !strings.Contains(v.Error, "step budget") || events(v, "error", "FITEM_2") != 1 {
			t.Fatalf("spinning script: error %q\n%s", v.Error, history(v))
		}
	})
}

// miniApp is an app of flows start → end with the given names and api_paths.
func miniApp(app string, flows ...[2]string) []byte {
	type m = map[string]any
	var fs []any
	for _, f := range flows {
		fs = append(fs, m{"flow_name": f[0], "api_path": f[1], "formobject": m{"items": []any{}},
			"flowobject": m{"items": []any{
				m{"id": "FITEM_1", "type": "start", "text": "開始", "config": m{}},
				m{"id": "FITEM_2", "type": "end", "text": "結束", "config": m{}},
				m{"id": "FLINE_1", "type": "line", "config": m{"source_item": "FITEM_1", "target_item": "FITEM_2"}},
			}}})
	}
	b, _ := json.Marshal(m{"app": m{"name": app}, "flows": fs})
	return b
}

func TestImportNeedsUsableAPIPaths(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEngine(t, db)
		_, err := e.ImportApp(ctx, admin, miniApp("a", [2]string{"one", ""}, [2]string{"two", ""}, [2]string{"three", "123"}, [2]string{"four", "ok"}))
		var ie *flow.InputError
		if !errors.As(err, &ie) || !errors.Is(err, flow.ErrInvalid) || len(ie.Details) != 3 || ie.Field != "one: api_path" {
			t.Fatalf("import: %v %+v", err, ie)
		}
		if apps, err := db.Apps(ctx); err != nil || len(apps) != 0 {
			t.Fatalf("apps after a refused import: %v %v", apps, err)
		}
		// Flows are matched by api_path on re-import; another app's path
		// is refused.
		res, err := e.ImportApp(ctx, admin, miniApp("a", [2]string{"one", "p1"}, [2]string{"two", "p2"}))
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.ImportApp(ctx, admin, miniApp("a", [2]string{"two", "p2"}, [2]string{"one", "p1"}))
		if err != nil || again.Flows[0].ID != res.Flows[1].ID || again.Flows[1].ID != res.Flows[0].ID || again.Flows[0].Changed {
			t.Fatalf("reimport in another order: %+v %v", again, err)
		}
		if _, err := e.ImportApp(ctx, admin, miniApp("b", [2]string{"x", "p1"})); !errors.Is(err, flow.ErrConflict) {
			t.Fatalf("another app's api_path: %v", err)
		}
		id := file(t, e, admin, "p1", nil)
		drain(t, e)
		if v := view(t, e, id); !v.Closed || v.No != "P1-"+pad(id) {
			t.Fatalf("start → end: %+v", v)
		}
	})
}
