package ui

import (
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/flow/def"
	"github.com/omflow/omflow/flow/expr"
	"github.com/omflow/omflow/store"
)

// formPage is the data of the new-ticket and task pages.
type formPage struct {
	Flow      flow.FlowInfo
	Form      *formView
	Action    string // where the form posts
	PersistAs string // sessionStorage key of the typed input
	Rerender  bool   // shown again after a rejected submission
	Problems  []string
	Conflict  bool // 409: someone else completed the task
	Task      *flow.TaskView
	Ticket    *flow.TicketView
	Done      bool // the task is no longer open
}

// choices loads what h_group fields offer, only when the form has one.
func (u *UI) choices(rq *req, form *def.Form) (formInput, error) {
	var in formInput
	need := false
	for _, f := range form.Fields() {
		if f.Type == def.TypeHGroup {
			need = true
		}
	}
	if !need {
		return in, nil
	}
	groups, err := u.o.Directory.Groups(rq.ctx)
	if err != nil {
		return in, err
	}
	users, err := u.o.Directory.Users(rq.ctx)
	if err != nil {
		return in, err
	}
	in.Members = map[string][]string{}
	for _, g := range groups {
		id := strconv.FormatInt(g.ID, 10)
		in.Groups = append(in.Groups, groupChoice{Value: id, Name: g.Name})
		members, err := u.o.Directory.GroupMembers(rq.ctx, g.ID)
		if err != nil {
			return in, err
		}
		names := []string{}
		for _, m := range members {
			if !m.Disabled {
				names = append(names, m.Username)
			}
		}
		in.Members[id] = names
	}
	for _, usr := range users {
		if !usr.Disabled {
			in.Users = append(in.Users, userChoice{Username: usr.Username, Name: firstNonEmpty(usr.DisplayName, usr.Username)})
		}
	}
	return in, nil
}

func (u *UI) newTicketForm(rq *req) (*def.Flow, flow.FlowInfo, *formView, error) {
	ref := rq.r.PathValue("flow")
	df, info, err := u.o.Engine.FlowDefinition(rq.ctx, rq.actor, ref)
	if err != nil {
		return nil, info, nil, err
	}
	in, err := u.choices(rq, df.Form)
	if err != nil {
		return nil, info, nil, err
	}
	in.Form, in.Defaults = df.Form, true
	return df, info, buildForm(in), nil
}

func (u *UI) newTicketPage(rq *req) error {
	_, info, fv, err := u.newTicketForm(rq)
	if err != nil {
		return err
	}
	if !info.CanStart {
		return rq.fail(http.StatusForbidden, k("new.cannot"))
	}
	d := formPage{Flow: info, Form: fv, Action: "/new/" + url.PathEscape(rq.r.PathValue("flow")), PersistAs: fmt.Sprintf("new-%d", info.ID)}
	return rq.render(http.StatusOK, "new", info.Name, "catalog", d)
}

func (u *UI) newTicketPost(rq *req) error {
	_, info, fv, err := u.newTicketForm(rq)
	if err != nil {
		return err
	}
	d := formPage{Flow: info, Form: fv, Action: "/new/" + url.PathEscape(rq.r.PathValue("flow")), PersistAs: fmt.Sprintf("new-%d", info.ID), Rerender: true}
	if err := rq.parseForm(); err != nil {
		return err
	}
	values := readSubmission(fv, rq.r.PostForm)
	added, err := u.attachFiles(rq, fv, values, 0)
	if err != nil {
		return u.formRejected(rq, "new", info.Name, "catalog", &d, values, err)
	}
	filed, err := u.o.Engine.FileTicket(rq.ctx, rq.actor, strconv.FormatInt(info.ID, 10), values)
	if err != nil {
		return u.formRejected(rq, "new", info.Name, "catalog", &d, values, err)
	}
	u.link(rq, added, filed.ID)
	rq.flash(k("flash.filed"), filed.No)
	return rq.redirect(fmt.Sprintf("/tickets/%d", filed.ID))
}

type upload struct {
	id    int64
	field string
}

// attachFiles sets the values of the posted file fields: the files still
// ticked ("<id>.keep") and the new uploads, which it stores. A kept file not
// yet on the ticket must be the person's own upload from an earlier,
// rejected post of this form (so a rejected form need not be uploaded again).
// It returns the files to link to the ticket (ticketID 0: not filed yet). The
// form view is updated, so a rejected post shows them all.
func (u *UI) attachFiles(rq *req, fv *formView, values map[string]any, ticketID int64) ([]upload, error) {
	var link []upload
	post := rq.r.PostForm
	files := multipartFiles(rq.r)
	for _, f := range fv.fileFields(post) {
		have := map[int64]fileRef{}
		for _, r := range f.Files {
			have[r.ID] = r
		}
		var refs []fileRef
		for _, s := range post[f.ID+".keep"] {
			id, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				continue
			}
			if r, ok := have[id]; ok {
				refs = append(refs, r)
				continue
			}
			at, err := u.o.Directory.AttachmentInfo(rq.ctx, id)
			if err != nil || at.UploaderID != rq.actor.UserID || (at.TicketID != nil && *at.TicketID != ticketID) {
				continue // not theirs to attach: dropped
			}
			refs = append(refs, fileRef{ID: at.ID, Name: at.Name, Size: at.Size})
			link = append(link, upload{id: at.ID, field: f.ID})
		}
		for _, fh := range files[f.ID] {
			if fh.Filename == "" && fh.Size == 0 {
				continue
			}
			file, err := fh.Open()
			if err != nil {
				return link, fmt.Errorf("open upload %q: %w", fh.Filename, err)
			}
			at := &store.Attachment{Name: fh.Filename, ContentType: fh.Header.Get("Content-Type"), FieldID: f.ID, UploaderID: rq.actor.UserID}
			err = u.o.Directory.SaveAttachment(rq.ctx, at, file, u.o.MaxUpload)
			_ = file.Close()
			if err != nil {
				var tl *store.TooLargeError
				if errors.As(err, &tl) {
					f.Files = refs
					values[f.ID] = fileValue(refs)
					return link, &flow.InputError{Kind: flow.ErrInvalid, Code: "too_large", Field: f.ID, Message: err.Error()}
				}
				return link, err
			}
			refs = append(refs, fileRef{ID: at.ID, Name: at.Name, Size: at.Size})
			link = append(link, upload{id: at.ID, field: f.ID})
		}
		f.Files = refs
		values[f.ID] = fileValue(refs)
	}
	return link, nil
}

// link attaches stored uploads to the ticket whose fields now name them.
// The ticket is already saved: a failure here is logged, and the file stays
// reachable by its uploader until linked.
func (u *UI) link(rq *req, added []upload, ticketID int64) {
	for _, at := range added {
		if err := u.o.Directory.LinkAttachment(rq.ctx, at.id, ticketID, at.field); err != nil {
			u.log.Error("link attachment", "attachment", at.id, "ticket", ticketID, "err", err)
		}
	}
}

func multipartFiles(r *http.Request) map[string][]*multipart.FileHeader {
	if r.MultipartForm == nil {
		return nil
	}
	return r.MultipartForm.File
}

// formRejected shows a form again after the engine refused it: with what
// was typed, the messages next to the fields they name, and the others at
// the top.
func (u *UI) formRejected(rq *req, page, title, nav string, d *formPage, values map[string]any, err error) error {
	var ie *flow.InputError
	if !errors.As(err, &ie) {
		status, key := statusOf(err)
		if status >= 500 {
			return err
		}
		d.Problems = append(d.Problems, rq.T(key))
		applyValues(d.Form, values, nil)
		return rq.render(status, page, title, nav, d)
	}
	status, key := statusOf(err)
	errs := map[string]string{}
	problems := ie.Details
	if len(problems) == 0 {
		problems = []flow.FieldProblem{{Field: ie.Field, Code: ie.Code, Message: ie.Message}}
	}
	for _, p := range problems {
		msg := rq.fieldMessage(p.Code, p.Message)
		if p.Field != "" && d.Form.field(p.Field) != nil {
			if errs[p.Field] == "" {
				errs[p.Field] = msg
			}
			continue
		}
		if status == http.StatusConflict {
			continue // explained by the conflict banner
		}
		if p.Field != "" {
			msg = p.Field + ": " + msg
		}
		d.Problems = append(d.Problems, msg)
	}
	if status == http.StatusConflict {
		d.Conflict = true
	} else if len(errs) > 0 {
		d.Problems = append([]string{rq.T("form.fix", "N", len(errs))}, d.Problems...)
	} else if len(d.Problems) == 0 {
		d.Problems = append(d.Problems, rq.T(key))
	}
	applyValues(d.Form, values, errs)
	return rq.render(status, page, title, nav, d)
}

// fieldMessage translates an engine's field error code; codes without a
// translation keep the engine's (English) message.
func (rq *req) fieldMessage(code, fallback string) string {
	key := ""
	switch code {
	case def.CodeRequired:
		key = k("err.field.required")
	case def.CodeRegex:
		key = k("err.field.regex")
	case def.CodeChoice:
		key = k("err.field.choice")
	case def.CodeReadonly:
		key = k("err.field.readonly")
	case def.CodeUnknown:
		key = k("err.field.unknown")
	case def.CodeNumber:
		key = k("err.field.number")
	case def.CodeDate:
		key = k("err.field.date")
	case def.CodeLevel:
		key = k("err.field.level")
	case def.CodeType:
		key = k("err.field.type")
	case "too_large":
		key = k("err.field.toolarge")
	}
	if key == "" {
		return fallback
	}
	return rq.T(key)
}

// ticketPageData is the ticket page.
type ticketPageData struct {
	T           *flow.TicketView
	Fields      *formView
	Files       []store.Attachment
	History     []historyEntry
	Diagram     any
	MyTasks     map[int64]bool
	StateKey    string
	HasDiagram  bool
	HeaderGroup string
}

type historyEntry struct {
	flow.EventView
	KindKey string
	Changes []change
}

type change struct {
	Field, Old, New string
}

func (u *UI) ticketPage(rq *req) error {
	id, err := strconv.ParseInt(rq.r.PathValue("id"), 10, 64)
	if err != nil {
		return rq.fail(http.StatusNotFound, k("error.notfound"))
	}
	t, err := u.o.Engine.Ticket(rq.ctx, rq.actor, id)
	if err != nil {
		return err
	}
	df, err := u.o.Engine.TicketDefinition(rq.ctx, rq.actor, id)
	if err != nil {
		return err
	}
	files, err := u.o.Directory.TicketAttachments(rq.ctx, id)
	if err != nil {
		return err
	}
	in, err := u.choices(rq, df.Form)
	if err != nil {
		return err
	}
	in.Form, in.Values = df.Form, t.Fields
	fv := buildForm(in)
	markReadonly(fv.Items)

	fields := map[string]*def.FormItem{}
	for _, f := range df.Form.Fields() {
		fields[f.ID] = df.Form.Field(f.ID)
	}
	d := ticketPageData{T: t, Fields: fv, Files: files, MyTasks: map[int64]bool{}, StateKey: stateKey(t)}
	visited := map[string]bool{}
	for i := len(t.History) - 1; i >= 0; i-- { // newest first
		ev := t.History[i]
		if ev.NodeID != "" {
			visited[ev.NodeID] = true
		}
		he := historyEntry{EventView: ev, KindKey: eventKey(ev.Kind)}
		for _, fid := range sortedKeys(ev.Changes) {
			c := ev.Changes[fid]
			title := fid
			if f := fields[fid]; f != nil {
				title = firstNonEmpty(f.Config.Title, fid)
			}
			he.Changes = append(he.Changes, change{Field: title, Old: rq.display(fields[fid], c[0]), New: rq.display(fields[fid], c[1])})
		}
		d.History = append(d.History, he)
	}
	if mine, err := u.o.Engine.Tasks(rq.ctx, rq.actor, false); err == nil {
		for _, tk := range mine {
			d.MyTasks[tk.ID] = true
		}
	}
	if rq.actor.Admin {
		for _, tk := range t.Tasks {
			d.MyTasks[tk.ID] = true
		}
	}
	if df.Graph != nil && len(df.Graph.Nodes) > 0 {
		d.HasDiagram = true
		d.Diagram = diagramSVG(diagramInput{
			Graph: df.Graph, Current: t.Current, Visited: visited,
			Title:    rq.T("ticket.diagram.title", "Flow", t.FlowName),
			TypeName: func(typ string) string { return rq.T(nodeTypeKey(typ)) },
		})
	}
	d.HeaderGroup = rq.groupName(t.Group)
	for i := range t.Tasks {
		t.Tasks[i].Group = rq.groupName(t.Tasks[i].Group)
	}
	title := t.No
	if t.Title != "" {
		title += " " + t.Title
	}
	return rq.render(http.StatusOK, "ticket", title, "tickets", d)
}

// display renders a field value for the history: choices by their text,
// levels by their colour's name, groups by name.
func (rq *req) display(f *def.FormItem, v any) string {
	if f == nil {
		return valueText(v)
	}
	switch f.Type {
	case def.TypeSelectbox, def.TypeRadiobox:
		s := valueText(v)
		for _, c := range f.Config.Lists {
			if c.Value == s {
				return c.Text
			}
		}
		return s
	case def.TypeCheckbox:
		vals := expr.List(v)
		for i, x := range vals {
			for _, c := range f.Config.Lists {
				if c.Value == x {
					vals[i] = c.Text
				}
			}
		}
		return strings.Join(vals, ", ")
	case def.TypeHLevel:
		if s := valueText(v); s != "" {
			return rq.T(levelKey(s))
		}
		return ""
	case def.TypeHGroup:
		g, u := expr.GroupParts(v)
		g = rq.groupName(g)
		if u != "" {
			return g + " / " + u
		}
		return g
	}
	return valueText(v)
}

func markReadonly(items []*formNode) {
	for _, n := range items {
		if n.Box != nil {
			markReadonly(n.Box.Items)
		} else {
			n.Field.Readonly = true
		}
	}
}

// stateKey names a ticket's state for the header.
func stateKey(t *flow.TicketView) string {
	switch {
	case t.Error != "":
		return k("state.error")
	case t.Closed:
		return k("state.closed")
	}
	return k("state.open")
}

// eventKey names an event kind; kinds the pages do not know show as is.
func eventKey(kind string) string {
	switch kind {
	case "filed":
		return k("event.filed")
	case "task":
		return k("event.arrived")
	case "step":
		return k("event.step")
	case "completed", "done":
		return k("event.completed")
	case "action1", "action2", "action":
		return k("event.action")
	case "switch":
		return k("event.switch")
	case "script", "python":
		return k("event.script")
	case "set", "setform":
		return k("event.setform")
	case "sleep":
		return k("event.sleep")
	case "woke":
		return k("event.woke")
	case "closed", "end":
		return k("event.closed")
	case "error":
		return k("event.error")
	case "cancelled":
		return k("event.cancelled")
	}
	return ""
}

// nodeTypeKey names a node type for the diagram.
func nodeTypeKey(typ string) string {
	switch typ {
	case def.NodeStart:
		return k("node.start")
	case def.NodeEnd:
		return k("node.end")
	case def.NodeForm:
		return k("node.form")
	case def.NodeSwitch:
		return k("node.switch")
	case def.NodePython:
		return k("node.python")
	case def.NodeAsync:
		return k("node.async")
	case def.NodeCollection:
		return k("node.collection")
	case def.NodeSubflow:
		return k("node.subflow")
	case def.NodeSleep:
		return k("node.sleep")
	case def.NodeSetform:
		return k("node.setform")
	}
	return k("node.other")
}

// ticketsData is the ticket list.
type ticketsData struct {
	Page   *flow.TicketPage
	Flows  []flow.FlowInfo
	Flow   string
	Status string
	State  string // "", "open", "closed"
	Query  string
	Mine   bool
	Pages  int
	Prev   string
	Next   string
}

func (u *UI) ticketsPage(rq *req) error {
	q := rq.r.URL.Query()
	d := ticketsData{Flow: q.Get("flow"), Status: strings.TrimSpace(q.Get("status")), State: q.Get("state"),
		Query: strings.TrimSpace(q.Get("q")), Mine: q.Get("mine") == "1"}
	page, _ := strconv.Atoi(q.Get("page"))
	f := flow.TicketFilter{Flow: d.Flow, Status: d.Status, Query: d.Query, Mine: d.Mine, Page: max(page, 1), PerPage: 25}
	switch d.State {
	case "open":
		v := false
		f.Closed = &v
	case "closed":
		v := true
		f.Closed = &v
	default:
		d.State = ""
	}
	flows, err := u.o.Engine.Flows(rq.ctx, rq.actor)
	if err != nil {
		return err
	}
	d.Flows = flows
	res, err := u.o.Engine.Tickets(rq.ctx, rq.actor, f)
	if err != nil {
		if errors.Is(err, flow.ErrNotFound) { // an unknown flow in the filter
			d.Flow, f.Flow = "", ""
			res, err = u.o.Engine.Tickets(rq.ctx, rq.actor, f)
		}
		if err != nil {
			return err
		}
	}
	d.Page = res
	if res.PerPage > 0 {
		d.Pages = int((res.Total + int64(res.PerPage) - 1) / int64(res.PerPage))
	}
	link := func(p int) string {
		v := url.Values{}
		for key, val := range map[string]string{"flow": d.Flow, "status": d.Status, "state": d.State, "q": d.Query} {
			if val != "" {
				v.Set(key, val)
			}
		}
		if d.Mine {
			v.Set("mine", "1")
		}
		v.Set("page", strconv.Itoa(p))
		return "/tickets?" + v.Encode()
	}
	if res.Page > 1 {
		d.Prev = link(res.Page - 1)
	}
	if res.Page < d.Pages {
		d.Next = link(res.Page + 1)
	}
	return rq.render(http.StatusOK, "tickets", rq.T("tickets.title"), "tickets", d)
}

// fileDownload serves an attachment to whoever may see its ticket (an
// attachment not yet filed: to its uploader).
func (u *UI) fileDownload(rq *req) error {
	id, err := strconv.ParseInt(rq.r.PathValue("id"), 10, 64)
	if err != nil {
		return rq.fail(http.StatusNotFound, k("error.notfound"))
	}
	at, err := u.o.Directory.AttachmentByID(rq.ctx, id)
	if err != nil {
		return err
	}
	if at.TicketID != nil {
		if _, err := u.o.Engine.Ticket(rq.ctx, rq.actor, *at.TicketID); err != nil {
			return err
		}
	} else if at.UploaderID != rq.actor.UserID && !rq.actor.Admin {
		return rq.fail(http.StatusNotFound, k("error.notfound"))
	}
	ct := at.ContentType
	if _, _, err := mime.ParseMediaType(ct); err != nil || ct == "" {
		ct = "application/octet-stream"
	}
	// Never let an upload run as a page of this site.
	disp := "attachment"
	if strings.HasPrefix(ct, "image/") && ct != "image/svg+xml" || ct == "application/pdf" || ct == "text/plain" {
		disp = "inline"
	}
	h := rq.w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": path.Base(at.Name)}))
	h.Set("Content-Length", strconv.FormatInt(int64(len(at.Data)), 10))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, max-age=300")
	_, err = rq.w.Write(at.Data)
	return err
}
