package ui

import (
	"strconv"
	"sync"
)

// Event is something a logged-in page should know about at once, sent to
// the browser as a server-sent event.
type Event struct {
	// Kind is the event name: EventTask when a task was assigned, EventTaskDone
	// when one was completed or cancelled, EventTicket when a ticket changed.
	Kind     string `json:"kind"`
	TaskID   int64  `json:"task_id,omitempty"`
	TicketID int64  `json:"ticket_id,omitempty"`
	TicketNo string `json:"ticket_no,omitempty"`
	Title    string `json:"title,omitempty"` // the ticket's title or the step's name
}

// Event kinds.
const (
	EventTask     = "task"
	EventTaskDone = "task-done"
	EventTicket   = "ticket"
)

// Broker fans events out to the browsers connected to this server. The
// engine's hook calls Publish when a task is created or finished; in a
// cluster the booster's events reach every server's broker, so a user gets
// the event on whichever server their browser is connected to.
type Broker struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

// subscriber is one open event stream.
type subscriber struct {
	userID int64
	admin  bool
	groups map[string]bool // group names and ids (as text)
	ch     chan Event
}

// NewBroker returns an empty broker.
func NewBroker() *Broker { return &Broker{subs: map[*subscriber]struct{}{}} }

// Publish sends ev to the streams of the given users and of the members of
// the given groups (by name or id). Administrators get every task event,
// since they may act on any task. Publish never blocks: a stream that is
// not keeping up loses the event (the page refreshes its lists on the next
// one, and on reconnecting).
func (b *Broker) Publish(userIDs []int64, groups []string, ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if !s.wants(userIDs, groups) {
			continue
		}
		select {
		case s.ch <- ev:
		default:
		}
	}
}

func (s *subscriber) wants(userIDs []int64, groups []string) bool {
	if s.admin {
		return true
	}
	for _, id := range userIDs {
		if id == s.userID {
			return true
		}
	}
	for _, g := range groups {
		if s.groups[g] {
			return true
		}
	}
	return false
}

// subscribe opens a stream for a user; cancel closes it.
func (b *Broker) subscribe(userID int64, admin bool, groupIDs []int64, groupNames []string) (<-chan Event, func()) {
	s := &subscriber{userID: userID, admin: admin, groups: map[string]bool{}, ch: make(chan Event, 16)}
	for _, id := range groupIDs {
		s.groups[strconv.FormatInt(id, 10)] = true
	}
	for _, n := range groupNames {
		s.groups[n] = true
	}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, s)
			b.mu.Unlock()
		})
	}
}

// Subscribers counts the open streams.
func (b *Broker) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}
