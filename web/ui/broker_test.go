package ui

import (
	"testing"
	"time"

	"github.com/omflow/omflow/flow"
)

func TestBrokerRoutesEventsToUsersGroupsAndAdmins(t *testing.T) {
	b := NewBroker()
	alice, stopA := b.subscribe(1, false, []int64{2}, []string{"任務處理組"})
	defer stopA()
	bob, stopB := b.subscribe(2, false, []int64{1}, []string{"総務"})
	defer stopB()
	root, stopR := b.subscribe(3, true, nil, nil)
	defer stopR()
	if b.Subscribers() != 3 {
		t.Fatalf("subscribers %d", b.Subscribers())
	}
	got := func(ch <-chan Event) []int64 {
		var ids []int64
		for {
			select {
			case ev := <-ch:
				ids = append(ids, ev.TaskID)
			case <-time.After(20 * time.Millisecond):
				return ids
			}
		}
	}
	b.Publish(nil, []string{"2"}, Event{Kind: EventTask, TaskID: 10})             // group by id
	b.Publish(nil, []string{"任務處理組"}, Event{Kind: EventTask, TaskID: 11})         // group by name
	b.Publish([]int64{2}, nil, Event{Kind: EventTask, TaskID: 12})                // a user
	b.Publish(nil, []string{"unknown group"}, Event{Kind: EventTask, TaskID: 13}) // only admins
	a := int64(1)
	b.TaskAssigned(flow.TaskView{ID: 14, AssigneeID: &a})
	if ids := got(alice); len(ids) != 3 || ids[0] != 10 || ids[1] != 11 || ids[2] != 14 {
		t.Errorf("alice got %v", ids)
	}
	if ids := got(bob); len(ids) != 1 || ids[0] != 12 {
		t.Errorf("bob got %v", ids)
	}
	if ids := got(root); len(ids) != 5 {
		t.Errorf("admin got %v", ids)
	}

	// A stream that does not read loses events instead of blocking the
	// engine's hook.
	done := make(chan struct{})
	go func() {
		for i := 0; i < 1000; i++ {
			b.Publish([]int64{2}, nil, Event{Kind: EventTask, TaskID: int64(i)})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a slow stream")
	}
	stopB()
	stopB() // harmless twice
	if b.Subscribers() != 2 {
		t.Fatalf("after cancel: %d", b.Subscribers())
	}
}

// TaskClosed (the engine's hook) tells the task's assignee and group that it
// left their inboxes, as a task-done event.
func TestBrokerTaskClosedReachesAssigneeAndGroup(t *testing.T) {
	b := NewBroker()
	alice, stopA := b.subscribe(1, false, nil, nil)
	defer stopA()
	carol, stopC := b.subscribe(3, false, []int64{2}, []string{"任務處理組"})
	defer stopC()
	bob, stopB := b.subscribe(2, false, []int64{1}, []string{"総務"})
	defer stopB()
	a := int64(1)
	b.TaskClosed(flow.TaskView{ID: 7, TicketID: 5, TicketNo: "MISSION-000005", NodeName: "任務分析", Group: "2", AssigneeID: &a, State: "done"})
	for name, ch := range map[string]<-chan Event{"alice": alice, "carol": carol} {
		select {
		case ev := <-ch:
			if ev.Kind != EventTaskDone || ev.TaskID != 7 || ev.TicketID != 5 || ev.TicketNo != "MISSION-000005" {
				t.Errorf("%s got %+v", name, ev)
			}
		case <-time.After(time.Second):
			t.Errorf("%s got no task-done event", name)
		}
	}
	select {
	case ev := <-bob:
		t.Errorf("bob (neither assignee nor in group 2) got %+v", ev)
	case <-time.After(20 * time.Millisecond):
	}
}
