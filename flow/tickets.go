package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/omflow/omflow/flow/def"
	"github.com/omflow/omflow/store"
)

// Flows lists the flows the actor may start; administrators see every
// flow, disabled ones included.
func (e *Engine) Flows(ctx context.Context, a *Actor) ([]FlowInfo, error) {
	c, err := e.loadCatalog(ctx)
	if err != nil {
		return nil, err
	}
	out := []FlowInfo{}
	for _, fe := range c.list {
		can := fe.Enabled && fe.CurrentVersion > 0 && a.may(fe, opAdd)
		if !can && !a.Admin {
			continue
		}
		out = append(out, fe.info(can))
	}
	return out, nil
}

func (fe *flowEntry) info(canStart bool) FlowInfo {
	return FlowInfo{ID: fe.ID, Name: fe.Name, App: fe.App, AppID: fe.AppID, Version: fe.CurrentVersion,
		APIPath: fe.APIPath, Enabled: fe.Enabled, CanStart: canStart}
}

// FlowDefinition returns the current version of a flow the actor may view.
func (e *Engine) FlowDefinition(ctx context.Context, a *Actor, ref string) (*def.Flow, FlowInfo, error) {
	fe, err := e.flow(ctx, ref)
	if err != nil {
		return nil, FlowInfo{}, err
	}
	if !a.may(fe, opView) {
		return nil, FlowInfo{}, forbidden("you may not see flow %q", fe.Name)
	}
	c, _, err := e.currentDefinition(ctx, fe)
	if err != nil {
		return nil, FlowInfo{}, err
	}
	return c.flow, fe.info(fe.Enabled && a.may(fe, opAdd)), nil
}

func (e *Engine) currentDefinition(ctx context.Context, fe *flowEntry) (*compiled, *store.FlowVersion, error) {
	key := versionKey{fe.ID, fe.CurrentVersion}
	if v, ok := e.versions.Load(key); ok {
		v := v.(*store.FlowVersion)
		c, err := e.definition(ctx, v.ID)
		return c, v, err
	}
	v, err := e.db.FlowVersion(ctx, fe.ID, fe.CurrentVersion)
	if err != nil {
		return nil, nil, err
	}
	c, err := e.definition(ctx, v.ID)
	if err != nil {
		return nil, nil, err
	}
	// Version rows never change: keep the header, not the definition text
	// (which c holds parsed).
	e.versions.Store(key, &store.FlowVersion{ID: v.ID, FlowID: v.FlowID, Version: v.Version, CreatedAt: v.CreatedAt})
	return c, v, nil
}

// versionKey names version n of a flow.
type versionKey struct {
	flow int64
	n    int
}

// FileTicket opens a ticket in a flow: it checks the fields against the
// flow's form and stores the ticket with its first job in one transaction.
func (e *Engine) FileTicket(ctx context.Context, a *Actor, flowRef string, fields map[string]any) (*Filed, error) {
	fe, err := e.flow(ctx, flowRef)
	if err != nil {
		return nil, err
	}
	if !a.may(fe, opAdd) {
		return nil, forbidden("you may not file tickets in flow %q", fe.Name)
	}
	if !fe.Enabled || fe.CurrentVersion == 0 {
		return nil, &InputError{Kind: ErrConflict, Code: "flow_disabled", Field: "flow", Message: fmt.Sprintf("flow %q is disabled", fe.Name)}
	}
	c, v, err := e.currentDefinition(ctx, fe)
	if err != nil {
		return nil, err
	}
	if err := checkText(fields); err != nil {
		return nil, err
	}
	vals, errs := c.flow.Form.Validate(nil, fields, nil, def.ModeFile)
	if len(errs) > 0 {
		return nil, fieldErrors(errs)
	}
	start := c.flow.Graph.Start()
	if start == nil {
		return nil, fmt.Errorf("flow %q version %d has no start node", fe.Name, v.Version)
	}
	t := &store.Ticket{FlowID: fe.ID, FlowVersionID: v.ID, Version: v.Version, CreatorID: a.UserID, Vars: "{}"}
	st := &ticketState{}
	tok := st.newToken(start.ID, waitJob)
	r := &run{e: e, t: t, c: c, st: st, fields: vals, vars: map[string]any{}, cx: ctx}
	if err := r.header(); err != nil {
		return nil, fmt.Errorf("file ticket in %q: %w", fe.Name, err)
	}
	t.Fields, t.State = encodeJSON(vals), st.encode()
	var job *store.Job
	file := func(ctx context.Context) error {
		t.ID, r.jobs = 0, nil // a retried transaction starts afresh
		if err := e.db.CreateTicket(ctx, t, fe.APIPath); err != nil {
			return err
		}
		r.enqueue(tok, start.ID, false, e.db.Now())
		job = r.jobs[0]
		if err := e.db.AddEvents(ctx, &store.TicketEvent{TicketID: t.ID, Kind: "filed", ActorID: &a.UserID,
			ActorName: a.Username, Changes: diff(nil, vals)}); err != nil {
			return err
		}
		return e.db.EnqueueJobs(ctx, job)
	}
	for attempt := 0; ; attempt++ {
		err = e.db.Tx(ctx, file)
		if !store.IsRetryable(err) || attempt >= 5 {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("file ticket in %q: %w", fe.Name, err)
	}
	e.committed(t, []*store.Job{job}, nil)
	return &Filed{ID: t.ID, No: t.No, Status: t.Status, Closed: false}, nil
}

// checkText rejects submitted text that no database can store: invalid
// UTF-8 and NUL characters, in values and in field names.
func checkText(fields map[string]any) error {
	keys := slices.Sorted(maps.Keys(fields))
	for _, k := range keys {
		if !cleanText(k) {
			return &InputError{Kind: ErrInvalid, Code: "text", Field: strings.ToValidUTF8(strings.ReplaceAll(k, "\x00", ""), "?"),
				Message: "field names must be UTF-8 text without NUL characters"}
		}
		if !cleanValue(fields[k]) {
			return &InputError{Kind: ErrInvalid, Code: "text", Field: k,
				Message: fmt.Sprintf("field %s: text must be UTF-8 without NUL characters", k)}
		}
	}
	return nil
}

func cleanText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

func cleanValue(v any) bool {
	switch x := v.(type) {
	case string:
		return cleanText(x)
	case []any:
		for _, e := range x {
			if !cleanValue(e) {
				return false
			}
		}
	case []string:
		for _, e := range x {
			if !cleanText(e) {
				return false
			}
		}
	case map[string]any:
		for k, e := range x {
			if !cleanText(k) || !cleanValue(e) {
				return false
			}
		}
	case map[string]string:
		for k, e := range x {
			if !cleanText(k) || !cleanText(e) {
				return false
			}
		}
	}
	return true
}

// fieldErrors turns form problems into one InputError naming the first
// field and listing all.
func fieldErrors(errs []def.FieldError) error {
	ie := &InputError{Kind: ErrInvalid, Code: errs[0].Code, Field: errs[0].Field, Message: errs[0].Message}
	for _, fe := range errs {
		ie.Details = append(ie.Details, FieldProblem{Field: fe.Field, Code: fe.Code, Message: fe.Message})
	}
	if len(errs) > 1 {
		ie.Message = fmt.Sprintf("%s (and %d more problems)", errs[0].Message, len(errs)-1)
	}
	return ie
}

// canSeeTicket: administrators, the creator, readers of the flow, and
// whoever may work one of its tasks.
func (e *Engine) canSeeTicket(ctx context.Context, a *Actor, t *store.Ticket, fe *flowEntry, tasks []store.Task) bool {
	if a.Admin || t.CreatorID == a.UserID || a.may(fe, opView) {
		return true
	}
	for _, task := range tasks {
		if a.mayWork(&task) {
			return true
		}
	}
	return false
}

// Ticket returns a ticket with its open tasks and history.
func (e *Engine) Ticket(ctx context.Context, a *Actor, id int64) (*TicketView, error) {
	t, err := e.db.TicketByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFoundErr("ticket_not_found", "no ticket %d", id)
	}
	if err != nil {
		return nil, err
	}
	fe, err := e.flowByID(ctx, t.FlowID)
	if err != nil {
		return nil, err
	}
	tasks, err := e.db.TicketTasks(ctx, t.ID, false)
	if err != nil {
		return nil, err
	}
	if !e.canSeeTicket(ctx, a, t, fe, tasks) {
		return nil, forbidden("you may not see ticket %s", t.No)
	}
	evs, err := e.db.Events(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	v := &TicketView{ID: t.ID, No: t.No, FlowID: t.FlowID, FlowName: fe.Name, Version: t.Version, Title: t.Title,
		Status: t.Status, Level: t.Level, Group: t.GroupName, Closed: t.Closed, Error: t.Error,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, ClosedAt: t.ClosedAt, CanEdit: a.may(fe, opModify),
		Tasks: []TaskView{}, History: []EventView{}}
	if err := json.Unmarshal([]byte(t.Fields), &v.Fields); err != nil {
		return nil, fmt.Errorf("ticket %d fields: %w", t.ID, err)
	}
	if a.Admin || a.may(fe, opModify) {
		_ = json.Unmarshal([]byte(t.Vars), &v.Vars)
	}
	if st, err := parseState(t.State); err == nil {
		v.Current = st.current()
	}
	ids := []int64{t.CreatorID}
	if t.AssigneeID != nil {
		ids = append(ids, *t.AssigneeID)
	}
	names, err := e.db.UserNames(ctx, ids)
	if err != nil {
		return nil, err
	}
	v.Creator = names[t.CreatorID]
	if t.AssigneeID != nil {
		v.Assignee = names[*t.AssigneeID]
	}
	c, err := e.definition(ctx, t.FlowVersionID)
	if err != nil {
		return nil, err
	}
	for i := range tasks {
		if tasks[i].State == store.TaskOpen {
			v.Tasks = append(v.Tasks, taskView(&tasks[i], t, fe, c))
		}
	}
	for _, ev := range evs {
		ew := EventView{ID: ev.ID, Kind: ev.Kind, NodeID: ev.NodeID, NodeName: ev.NodeName, Actor: ev.ActorName, Message: ev.Message, At: ev.At}
		if ev.Changes != "" {
			_ = json.Unmarshal([]byte(ev.Changes), &ew.Changes)
		}
		v.History = append(v.History, ew)
	}
	return v, nil
}

// TicketDefinition returns the flow version a ticket runs on (for the
// diagram and the forms), if the actor may see the ticket.
func (e *Engine) TicketDefinition(ctx context.Context, a *Actor, id int64) (*def.Flow, error) {
	if _, err := e.Ticket(ctx, a, id); err != nil {
		return nil, err
	}
	t, err := e.db.TicketByID(ctx, id)
	if err != nil {
		return nil, err
	}
	c, err := e.definition(ctx, t.FlowVersionID)
	if err != nil {
		return nil, err
	}
	return c.flow, nil
}

// Tickets lists tickets the actor may see.
func (e *Engine) Tickets(ctx context.Context, a *Actor, f TicketFilter) (*TicketPage, error) {
	if f.PerPage <= 0 {
		f.PerPage = 50
	}
	f.PerPage = min(f.PerPage, 200)
	f.Page = max(f.Page, 1)
	c, err := e.loadCatalog(ctx)
	if err != nil {
		return nil, err
	}
	q := store.TicketQuery{Closed: f.Closed, Status: f.Status, Text: f.Query, Offset: (f.Page - 1) * f.PerPage, Limit: f.PerPage}
	if f.Flow != "" {
		fe, err := e.flow(ctx, f.Flow)
		if err != nil {
			return nil, err
		}
		q.FlowID = fe.ID
	}
	if f.Mine {
		q.Creator = a.UserID
	}
	if !a.Admin {
		q.Visible, q.VisibleCreator = []int64{}, a.UserID
		for _, fe := range c.list {
			if a.may(fe, opView) {
				q.Visible = append(q.Visible, fe.ID)
			}
		}
	}
	ts, total, err := e.db.Tickets(ctx, q)
	if err != nil {
		return nil, err
	}
	page := &TicketPage{Items: make([]TicketSummary, 0, len(ts)), Total: total, Page: f.Page, PerPage: f.PerPage}
	for _, t := range ts {
		name := ""
		if fe := c.byID[t.FlowID]; fe != nil {
			name = fe.Name
		}
		page.Items = append(page.Items, TicketSummary{ID: t.ID, No: t.No, FlowID: t.FlowID, FlowName: name, Title: t.Title,
			Status: t.Status, Level: t.Level, Group: t.GroupName, Closed: t.Closed, Error: t.Error,
			CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt})
	}
	return page, nil
}
