package flow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/omflow/omflow/flow/def"
	"github.com/omflow/omflow/store"
)

// mayWork: a task can be completed by its assignee, a member of its group,
// or an administrator. A task with neither is for administrators.
func (a *Actor) mayWork(t *store.Task) bool {
	if a == nil {
		return false
	}
	if a.Admin {
		return true
	}
	if t.AssigneeID != nil && *t.AssigneeID == a.UserID {
		return true
	}
	return a.inGroup(t.GroupName)
}

func taskView(task *store.Task, t *store.Ticket, fe *flowEntry, c *compiled) TaskView {
	v := TaskView{ID: task.ID, TicketID: task.TicketID, NodeID: task.NodeID, NodeName: task.NodeName,
		Group: task.GroupName, AssigneeID: task.AssigneeID, State: task.State, CreatedAt: task.CreatedAt, Actions: []TaskAction{}}
	if t != nil {
		v.TicketNo, v.Title, v.FlowID = t.No, t.Title, t.FlowID
	}
	if fe != nil {
		v.FlowName = fe.Name
	}
	if c != nil {
		if _, n, _, err := scope(c.flow.Graph, task.NodeID); err == nil {
			v.Actions = actions(n)
		}
	}
	return v
}

func actions(n *def.Node) []TaskAction {
	out := []TaskAction{}
	if n.Config.Action1 {
		out = append(out, TaskAction{ID: "action1", Text: n.Config.Action1Text})
	}
	if n.Config.Action2 {
		out = append(out, TaskAction{ID: "action2", Text: n.Config.Action2Text})
	}
	return out
}

// Tasks lists open tasks for the actor: assigned to them or to one of their
// groups; with all, an administrator gets every open task.
func (e *Engine) Tasks(ctx context.Context, a *Actor, all bool) ([]TaskView, error) {
	if all && !a.Admin {
		return nil, forbidden("only administrators may list every task")
	}
	tasks, err := e.db.OpenTasks(ctx, store.TaskQuery{All: all, UserID: a.UserID, Groups: a.groupKeys()})
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(tasks))
	for _, t := range tasks {
		ids = append(ids, t.TicketID)
	}
	tickets, err := e.db.TicketsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	cat, err := e.loadCatalog(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]TaskView, 0, len(tasks))
	for i := range tasks {
		t := tickets[tasks[i].TicketID]
		if t == nil {
			continue
		}
		c, err := e.definition(ctx, t.FlowVersionID)
		if err != nil {
			return nil, err
		}
		out = append(out, taskView(&tasks[i], t, cat.byID[t.FlowID], c))
	}
	return out, nil
}

// TaskForm is a task with the form as its step shows it, for the task page.
type TaskForm struct {
	Task   TaskView
	Ticket *TicketView
	Form   *def.Form // the flow's form
	View   *def.Form // the step's view of it (nil: the whole form)
}

// Task returns an open or finished task the actor may work on.
func (e *Engine) Task(ctx context.Context, a *Actor, id int64) (*TaskForm, error) {
	task, t, fe, c, err := e.loadTask(ctx, id)
	if err != nil {
		return nil, err
	}
	if !a.mayWork(task) {
		return nil, forbidden("task %d is not yours", id)
	}
	tv, err := e.Ticket(ctx, a, t.ID)
	if err != nil {
		return nil, err
	}
	_, n, _, err := scope(c.flow.Graph, task.NodeID)
	if err != nil {
		return nil, err
	}
	return &TaskForm{Task: taskView(task, t, fe, c), Ticket: tv, Form: c.flow.Form, View: n.Config.FormObject}, nil
}

func (e *Engine) loadTask(ctx context.Context, id int64) (*store.Task, *store.Ticket, *flowEntry, *compiled, error) {
	task, err := e.db.TaskByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil, nil, notFoundErr("task_not_found", "no task %d", id)
	}
	if err != nil {
		return nil, nil, nil, nil, err
	}
	t, err := e.db.TicketByID(ctx, task.TicketID)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	fe, err := e.flowByID(ctx, t.FlowID)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	c, err := e.definition(ctx, t.FlowVersionID)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return task, t, fe, c, nil
}

// CompleteTask records a person's work on a form step: the submitted fields
// are checked against the step's form view (read-only and hidden fields may
// not change), the chosen quick action's assignments apply, and the ticket
// moves on. Of several people completing the same task at once exactly one
// succeeds; the others get ErrConflict.
func (e *Engine) CompleteTask(ctx context.Context, a *Actor, taskID int64, fields map[string]any, action string) error {
	for attempt := 0; ; attempt++ {
		err := e.completeTask(ctx, a, taskID, fields, action)
		if !retryable(err) || attempt >= 20 {
			if retryable(err) {
				return &InputError{Kind: ErrConflict, Code: "busy", Message: "the ticket is being changed; try again"}
			}
			return err
		}
	}
}

func (e *Engine) completeTask(ctx context.Context, a *Actor, taskID int64, fields map[string]any, action string) error {
	task, t, _, c, err := e.loadTask(ctx, taskID)
	if err != nil {
		return err
	}
	if !a.mayWork(task) {
		return forbidden("task %d is not yours: it is for group %q", taskID, task.GroupName)
	}
	if task.State != store.TaskOpen {
		return &InputError{Kind: ErrConflict, Code: "task_closed", Message: fmt.Sprintf("task %d was already completed by someone else", taskID)}
	}
	if t.Closed || t.Error != "" {
		return &InputError{Kind: ErrConflict, Code: "ticket_stopped", Message: fmt.Sprintf("ticket %s is closed or stopped in error", t.No)}
	}
	_, n, _, err := scope(c.flow.Graph, task.NodeID)
	if err != nil {
		return err
	}
	var extra []def.Assign
	switch action {
	case "":
	case "action1", "action2":
		if action == "action1" && n.Config.Action1 {
			extra = n.Config.Input1
		} else if action == "action2" && n.Config.Action2 {
			extra = n.Config.Input2
		} else {
			return &InputError{Kind: ErrInvalid, Code: "action", Field: "action", Message: fmt.Sprintf("step %q has no %s", n.Name, action)}
		}
	default:
		return &InputError{Kind: ErrInvalid, Code: "action", Field: "action", Message: fmt.Sprintf("action must be action1, action2 or empty, not %q", action)}
	}
	r, err := e.newRun(ctx, t, nil)
	if err != nil {
		return err
	}
	r.waiting-- // the task being completed is closed here, not cancelled
	if err := checkText(fields); err != nil {
		return err
	}
	tok := r.st.token(task.Token)
	if tok == nil || tok.Node != task.NodeID || tok.Wait != waitTask {
		return &InputError{Kind: ErrConflict, Code: "task_closed", Message: fmt.Sprintf("task %d no longer waits", taskID)}
	}
	vals, errs := c.flow.Form.Validate(n.Config.FormObject, fields, r.fields, def.ModeStep)
	if len(errs) > 0 {
		return fieldErrors(errs)
	}
	before := r.fields
	r.fields = vals
	if !r.assign(task.NodeID, n, extra, false) {
		return &InputError{Kind: ErrInvalid, Code: "action", Field: "action", Message: r.halt}
	}
	msg := ""
	if action != "" {
		msg = action
		for _, act := range actions(n) {
			if act.ID == action {
				msg = act.Text
			}
		}
	}
	uid := a.UserID
	r.events = append(r.events, &store.TicketEvent{TicketID: t.ID, Kind: "completed", NodeID: task.NodeID, NodeName: n.Name,
		ActorID: &uid, ActorName: a.Username, Message: msg, Changes: diff(before, r.fields)})
	r.leave(tok, task.NodeID)
	for _, p := range r.queue {
		r.enqueue(p.tok, p.path, false, time.Time{})
	}
	r.queue = nil
	if err := r.header(); err != nil {
		return err
	}
	task.Action, task.CompletedBy = action, &uid
	err = e.db.Tx(ctx, func(ctx context.Context) error {
		if err := e.db.CloseTask(ctx, task, store.TaskDone); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return &InputError{Kind: ErrConflict, Code: "task_closed", Message: fmt.Sprintf("task %d was already completed by someone else", taskID)}
			}
			return err
		}
		return r.write(ctx)
	})
	if err != nil {
		return err
	}
	e.committed(r.t, r.jobs, r.liveTasks())
	e.tasksClosed(r.t, append([]store.Task{*task}, r.cancelled...))
	return nil
}

// tasksClosed runs the TaskClosed hook for tasks of ticket t that a
// committed change closed.
func (e *Engine) tasksClosed(t *store.Ticket, tasks []store.Task) {
	if e.opts.Hooks.TaskClosed == nil {
		return
	}
	for i := range tasks {
		task := &tasks[i]
		e.opts.Hooks.TaskClosed(TaskView{ID: task.ID, TicketID: t.ID, TicketNo: t.No, FlowID: t.FlowID,
			NodeID: task.NodeID, NodeName: task.NodeName, Title: t.Title, Group: task.GroupName,
			AssigneeID: task.AssigneeID, State: task.State, CreatedAt: task.CreatedAt, Actions: []TaskAction{}})
	}
}
