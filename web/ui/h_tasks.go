package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/store"
)

type inboxData struct {
	Tasks []flow.TaskView
	All   bool // an administrator looking at every open task
}

func (u *UI) inbox(rq *req) (inboxData, error) {
	d := inboxData{All: rq.actor.Admin && rq.r.URL.Query().Get("all") == "1"}
	tasks, err := u.o.Engine.Tasks(rq.ctx, rq.actor, d.All)
	d.Tasks = rq.namedGroups(tasks)
	return d, err
}

func (u *UI) inboxPage(rq *req) error {
	d, err := u.inbox(rq)
	if err != nil {
		return err
	}
	return rq.render(http.StatusOK, "inbox", rq.T("inbox.title"), "inbox", d)
}

// inboxFragment is the task table alone, which the script fetches when an
// event says the inbox changed.
func (u *UI) inboxFragment(rq *req) error {
	d, err := u.inbox(rq)
	if err != nil {
		return err
	}
	return u.rd.fragment(rq.w, "inbox", "tasklist", rq.lang, rq.loc, d)
}

// taskForm loads a task and lays out its step's form.
func (u *UI) taskForm(rq *req) (*flow.TaskForm, *formPage, error) {
	id, err := strconv.ParseInt(rq.r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, nil, &flow.InputError{Kind: flow.ErrNotFound, Message: "no such task"}
	}
	tf, err := u.o.Engine.Task(rq.ctx, rq.actor, id)
	if err != nil {
		return nil, nil, err
	}
	in, err := u.choices(rq, tf.Form)
	if err != nil {
		return nil, nil, err
	}
	in.Form, in.View, in.Values = tf.Form, tf.View, tf.Ticket.Fields
	fv := buildForm(in)
	task := tf.Task
	task.Group = rq.groupName(task.Group)
	d := &formPage{
		Form: fv, Action: fmt.Sprintf("/tasks/%d", task.ID), PersistAs: fmt.Sprintf("task-%d", task.ID),
		Task: &task, Ticket: tf.Ticket, Done: task.State != store.TaskOpen,
		Flow: flow.FlowInfo{ID: task.FlowID, Name: task.FlowName},
	}
	return tf, d, nil
}

func taskTitle(tf *flow.TaskForm) string {
	return tf.Task.NodeName + " — " + tf.Task.TicketNo
}

func (u *UI) taskPage(rq *req) error {
	tf, d, err := u.taskForm(rq)
	if err != nil {
		return err
	}
	if d.Done {
		markReadonly(d.Form.Items)
	}
	return rq.render(http.StatusOK, "task", taskTitle(tf), "inbox", d)
}

func (u *UI) taskPost(rq *req) error {
	tf, d, err := u.taskForm(rq)
	if err != nil {
		return err
	}
	d.Rerender = true
	if err := rq.parseForm(); err != nil {
		return err
	}
	values := readSubmission(d.Form, rq.r.PostForm)
	if d.Done {
		d.Conflict = true
		applyValues(d.Form, values, nil)
		return rq.render(http.StatusConflict, "task", taskTitle(tf), "inbox", d)
	}
	action := rq.r.PostFormValue("action")
	if action != "" && action != "action1" && action != "action2" {
		action = ""
	}
	added, err := u.attachFiles(rq, d.Form, values, tf.Ticket.ID)
	if err == nil {
		err = u.o.Engine.CompleteTask(rq.ctx, rq.actor, tf.Task.ID, values, action)
	}
	if err != nil {
		return u.formRejected(rq, "task", taskTitle(tf), "inbox", d, values, err)
	}
	u.link(rq, added, tf.Ticket.ID)
	// The others who could have worked on it see it leave their inboxes:
	// the engine's TaskClosed hook publishes it (Broker.TaskClosed).
	rq.flash(k("flash.completed"), tf.Task.TicketNo)
	return rq.redirect("/tasks")
}

// events streams server-sent events to a logged-in page until it goes away.
func (u *UI) events(rq *req) error {
	a := rq.actor
	ids := make([]int64, 0, len(a.Groups))
	names := make([]string, 0, len(a.Groups))
	for _, g := range a.Groups {
		ids = append(ids, g.ID)
		names = append(names, g.Name)
	}
	ch, cancel := u.o.Broker.subscribe(a.UserID, a.Admin, ids, names)
	defer cancel()

	rc := http.NewResponseController(rq.w)
	// The server's timeouts are for ordinary pages; a stream stays open
	// (and the script reconnects should it close anyway).
	_ = rc.SetWriteDeadline(time.Time{})
	_ = rc.SetReadDeadline(time.Time{})
	h := rq.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	rq.w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(rq.w, "retry: 5000\n: connected\n\n"); err != nil {
		return nil
	}
	if err := rc.Flush(); err != nil {
		return nil
	}
	tick := time.NewTicker(u.o.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-rq.ctx.Done():
			return nil
		case <-tick.C:
			if _, err := fmt.Fprint(rq.w, ": ping\n\n"); err != nil {
				return nil
			}
		case ev := <-ch:
			b, err := json.Marshal(ev)
			if err != nil {
				return fmt.Errorf("encode event: %w", err)
			}
			if _, err := fmt.Fprintf(rq.w, "event: %s\ndata: %s\n\n", ev.Kind, b); err != nil {
				return nil
			}
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

// TaskAssigned publishes a new task to whoever may work on it; plug it into
// flow.Options.Hooks.TaskAssigned.
func (b *Broker) TaskAssigned(t flow.TaskView) {
	users, groups := taskAudience(t)
	b.Publish(users, groups, Event{Kind: EventTask, TaskID: t.ID, TicketID: t.TicketID, TicketNo: t.TicketNo, Title: t.NodeName})
}

// TaskClosed tells whoever could have worked on a task that it was
// completed or cancelled, so it leaves their inboxes; plug it into
// flow.Options.Hooks.TaskClosed.
func (b *Broker) TaskClosed(t flow.TaskView) {
	users, groups := taskAudience(t)
	b.Publish(users, groups, Event{Kind: EventTaskDone, TaskID: t.ID, TicketID: t.TicketID, TicketNo: t.TicketNo, Title: t.NodeName})
}

// taskAudience is whom a task's events go to: its assignee and its group.
func taskAudience(t flow.TaskView) (users []int64, groups []string) {
	if t.AssigneeID != nil {
		users = append(users, *t.AssigneeID)
	}
	if t.Group != "" {
		groups = append(groups, t.Group)
	}
	return users, groups
}
