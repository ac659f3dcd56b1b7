package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// CreateTicket inserts a ticket and gives it its number: the flow's prefix
// and the row id. Ids come from the database's own sequence, so filing has
// no hot counter row for concurrent servers to fight over.
func (db *DB) CreateTicket(ctx context.Context, t *Ticket, prefix string) error {
	return db.Tx(ctx, func(ctx context.Context) error {
		// A unique placeholder until the id is known (SQL Server's unique
		// indexes allow only one NULL, so NULL will not do).
		t.No = "~" + randomHex(12)
		if err := db.conn(ctx).Create(t).Error; err != nil {
			return fmt.Errorf("create ticket: %w", err)
		}
		t.No = TicketNo(prefix, t.ID)
		if err := db.conn(ctx).Model(&Ticket{}).Where("id = ?", t.ID).Update("no", t.No).Error; err != nil {
			return fmt.Errorf("number ticket %d: %w", t.ID, err)
		}
		return nil
	})
}

// TicketNo formats a ticket number.
func TicketNo(prefix string, id int64) string {
	return fmt.Sprintf("%s-%06d", strings.ToUpper(prefix), id)
}

// TicketByID returns a ticket.
func (db *DB) TicketByID(ctx context.Context, id int64) (*Ticket, error) {
	var t Ticket
	return &t, notFound(db.conn(ctx).Take(&t, id).Error, fmt.Sprintf("ticket %d", id))
}

// UpdateTicket writes t if nobody changed it since it was read at revision
// t.Revision; the stored revision is then t.Revision+1. It returns
// ErrConflict when the ticket changed meanwhile.
func (db *DB) UpdateTicket(ctx context.Context, t *Ticket) error {
	t.UpdatedAt = db.Now()
	res := db.conn(ctx).Model(&Ticket{}).Where("id = ? AND revision = ?", t.ID, t.Revision).
		Updates(map[string]any{
			"title": t.Title, "status": t.Status, "level": t.Level, "group_name": t.GroupName,
			"assignee_id": t.AssigneeID, "closed": t.Closed, "error": t.Error, "fields": t.Fields,
			"vars": t.Vars, "state": t.State, "revision": t.Revision + 1, "updated_at": t.UpdatedAt,
			"closed_at": t.ClosedAt,
		})
	if res.Error != nil {
		return fmt.Errorf("update ticket %d: %w", t.ID, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("update ticket %d: %w", t.ID, ErrConflict)
	}
	t.Revision++
	return nil
}

// TicketQuery selects tickets for a list.
type TicketQuery struct {
	FlowID  int64
	Closed  *bool
	Status  string
	Text    string
	Creator int64
	// Visible limits the list to tickets of these flows or filed by
	// VisibleCreator; nil means no limit (administrators).
	Visible        []int64
	VisibleCreator int64
	Offset, Limit  int
}

// Tickets lists tickets newest first, with the total count.
func (db *DB) Tickets(ctx context.Context, q TicketQuery) ([]Ticket, int64, error) {
	s := db.conn(ctx).Model(&Ticket{})
	if q.FlowID > 0 {
		s = s.Where("flow_id = ?", q.FlowID)
	}
	if q.Closed != nil {
		s = s.Where("closed = ?", *q.Closed)
	}
	if q.Status != "" {
		s = s.Where("status = ?", q.Status)
	}
	if q.Creator > 0 {
		s = s.Where("creator_id = ?", q.Creator)
	}
	if q.Text != "" {
		like := "%" + escapeLike(q.Text) + "%"
		s = s.Where("(no LIKE ? ESCAPE '!' OR title LIKE ? ESCAPE '!')", like, like)
	}
	if q.Visible != nil {
		if len(q.Visible) == 0 {
			s = s.Where("creator_id = ?", q.VisibleCreator)
		} else {
			s = s.Where("(flow_id IN ? OR creator_id = ?)", q.Visible, q.VisibleCreator)
		}
	}
	var total int64
	if err := s.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("count tickets: %w", err)
	}
	var out []Ticket
	err := s.Select("id, no, flow_id, flow_version_id, version, title, status, level, group_name, assignee_id, creator_id, closed, error, created_at, updated_at, closed_at").
		Order("id DESC").Offset(q.Offset).Limit(q.Limit).Find(&out).Error
	if err != nil {
		return nil, 0, fmt.Errorf("list tickets: %w", err)
	}
	return out, total, nil
}

// escapeLike makes s match literally in a LIKE pattern with ESCAPE '!'.
// "[" opens a character class in SQL Server's LIKE; the other engines read
// "![" as a plain "[".
func escapeLike(s string) string {
	r := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_", "[", "![")
	return r.Replace(s)
}

// AddEvents appends audit events.
func (db *DB) AddEvents(ctx context.Context, evs ...*TicketEvent) error {
	if len(evs) == 0 {
		return nil
	}
	now := db.Now()
	for _, e := range evs {
		if e.At.IsZero() {
			e.At = now
		}
	}
	return notFound(db.conn(ctx).Create(evs).Error, "add ticket events")
}

// Events returns a ticket's history, oldest first.
func (db *DB) Events(ctx context.Context, ticketID int64) ([]TicketEvent, error) {
	var out []TicketEvent
	err := db.conn(ctx).Where("ticket_id = ?", ticketID).Order("id").Find(&out).Error
	return out, notFound(err, fmt.Sprintf("history of ticket %d", ticketID))
}

// CreateTasks inserts open tasks.
func (db *DB) CreateTasks(ctx context.Context, ts ...*Task) error {
	if len(ts) == 0 {
		return nil
	}
	for _, t := range ts {
		t.State = TaskOpen
	}
	return notFound(db.conn(ctx).Create(ts).Error, "create tasks")
}

// TaskByID returns a task.
func (db *DB) TaskByID(ctx context.Context, id int64) (*Task, error) {
	var t Task
	return &t, notFound(db.conn(ctx).Take(&t, id).Error, fmt.Sprintf("task %d", id))
}

// CloseTask marks an open task done (or cancelled). Exactly one of several
// concurrent callers succeeds; the others get ErrConflict.
func (db *DB) CloseTask(ctx context.Context, t *Task, state string) error {
	now := db.Now()
	res := db.conn(ctx).Model(&Task{}).Where("id = ? AND state = ?", t.ID, TaskOpen).
		Updates(map[string]any{"state": state, "action": t.Action, "completed_by": t.CompletedBy, "completed_at": now})
	if res.Error != nil {
		return fmt.Errorf("close task %d: %w", t.ID, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("task %d is no longer open: %w", t.ID, ErrConflict)
	}
	t.State, t.CompletedAt = state, &now
	return nil
}

// CancelOpenTasks cancels every open task of a ticket (it closed).
func (db *DB) CancelOpenTasks(ctx context.Context, ticketID int64) error {
	err := db.conn(ctx).Model(&Task{}).Where("ticket_id = ? AND state = ?", ticketID, TaskOpen).
		Updates(map[string]any{"state": TaskCancelled, "completed_at": db.Now()}).Error
	return notFound(err, fmt.Sprintf("cancel tasks of ticket %d", ticketID))
}

// TicketTasks lists a ticket's tasks (open only, or all), oldest first.
func (db *DB) TicketTasks(ctx context.Context, ticketID int64, openOnly bool) ([]Task, error) {
	q := db.conn(ctx).Where("ticket_id = ?", ticketID)
	if openOnly {
		q = q.Where("state = ?", TaskOpen)
	}
	var out []Task
	return out, notFound(q.Order("id").Find(&out).Error, fmt.Sprintf("tasks of ticket %d", ticketID))
}

// TaskQuery selects open tasks for an inbox.
type TaskQuery struct {
	All    bool     // every open task (administrators)
	UserID int64    // tasks assigned to this user
	Groups []string // or to these groups (names and ids as text)
	Limit  int
}

// OpenTasks lists open tasks, oldest first.
func (db *DB) OpenTasks(ctx context.Context, q TaskQuery) ([]Task, error) {
	s := db.conn(ctx).Where("state = ?", TaskOpen)
	if !q.All {
		if len(q.Groups) > 0 {
			s = s.Where("(assignee_id = ? OR group_name IN ?)", q.UserID, q.Groups)
		} else {
			s = s.Where("assignee_id = ?", q.UserID)
		}
	}
	if q.Limit <= 0 {
		q.Limit = 500
	}
	var out []Task
	return out, notFound(s.Order("id").Limit(q.Limit).Find(&out).Error, "list open tasks")
}

// TicketsByID loads the given tickets' headers, keyed by id.
func (db *DB) TicketsByID(ctx context.Context, ids []int64) (map[int64]*Ticket, error) {
	out := map[int64]*Ticket{}
	if len(ids) == 0 {
		return out, nil
	}
	var ts []Ticket
	err := db.conn(ctx).Select("id, no, flow_id, flow_version_id, version, title, status, level, group_name, assignee_id, creator_id, closed, created_at").
		Where("id IN ?", ids).Find(&ts).Error
	if err != nil {
		return nil, fmt.Errorf("load tickets: %w", err)
	}
	for i := range ts {
		out[ts[i].ID] = &ts[i]
	}
	return out, nil
}

// UserByRef finds a user by numeric id or username.
func (db *DB) UserByRef(ctx context.Context, ref string) (*User, error) {
	var u User
	q := db.conn(ctx)
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		q = q.Where("id = ? OR username = ?", id, ref)
	} else {
		q = q.Where("username = ?", ref)
	}
	return &u, notFound(q.Take(&u).Error, "user "+strconv.Quote(ref))
}

// UserNames maps user ids to display names (username when none).
func (db *DB) UserNames(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	if len(ids) == 0 {
		return out, nil
	}
	var us []User
	if err := db.conn(ctx).Select("id, username, display_name").Where("id IN ?", ids).Find(&us).Error; err != nil {
		return nil, fmt.Errorf("look up users: %w", err)
	}
	for _, u := range us {
		out[u.ID] = u.Username
		if u.DisplayName != "" {
			out[u.ID] = u.DisplayName
		}
	}
	return out, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}
