package store

import "time"

// The models below are the current schema. Migration 1 (migrate.go) creates
// them; a later change to a model must come with a migration of its own that
// stays compatible with the previous release while a patch rolls out.

// User is a person or an API client that logs in.
type User struct {
	ID           int64  `gorm:"primaryKey"`
	Username     string `gorm:"size:191;not null;uniqueIndex"`
	DisplayName  string `gorm:"size:191"`
	Email        string `gorm:"size:191"`
	PasswordHash string `gorm:"size:255;not null"`
	Admin        bool   `gorm:"not null;default:false"`
	Disabled     bool   `gorm:"not null;default:false"`
	Lang         string `gorm:"size:16"`
	TimeZone     string `gorm:"size:64"`
	FailedLogins int    `gorm:"not null;default:0"`
	LockedUntil  *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Group is an organisational unit that tasks can be assigned to.
type Group struct {
	ID          int64  `gorm:"primaryKey"`
	Name        string `gorm:"size:191;not null;uniqueIndex"`
	ParentID    *int64 `gorm:"index"`
	Description string `gorm:"size:500"`
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// GroupMember puts a user in a group.
type GroupMember struct {
	GroupID int64 `gorm:"primaryKey;autoIncrement:false"`
	UserID  int64 `gorm:"primaryKey;autoIncrement:false;index"`
}

// Role is a named set of users that flow permissions can name. The built-in
// roles "admin" and "user" are not rows: every enabled user has "user", and
// User.Admin is "admin".
type Role struct {
	ID        int64  `gorm:"primaryKey"`
	Name      string `gorm:"size:191;not null;uniqueIndex"`
	CreatedAt time.Time
}

// RoleMember gives a user a role.
type RoleMember struct {
	RoleID int64 `gorm:"primaryKey;autoIncrement:false"`
	UserID int64 `gorm:"primaryKey;autoIncrement:false;index"`
}

// Session is a browser login. ID is the SHA-256 of the cookie value, so a
// stolen database does not hand out live sessions.
type Session struct {
	ID         string    `gorm:"primaryKey;size:64"`
	UserID     int64     `gorm:"not null;index"`
	CSRFToken  string    `gorm:"size:64;not null"`
	ExpiresAt  time.Time `gorm:"index"`
	LastSeenAt time.Time
	IP         string `gorm:"size:64"`
	UserAgent  string `gorm:"size:255"`
	CreatedAt  time.Time
}

// APIToken is a bearer token. TokenHash is the SHA-256 of the token.
type APIToken struct {
	ID         int64  `gorm:"primaryKey"`
	UserID     int64  `gorm:"not null;index"`
	Name       string `gorm:"size:191"`
	TokenHash  string `gorm:"size:64;not null;uniqueIndex"`
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	CreatedAt  time.Time
}

// App groups flows imported together from one OMFLOW app export.
type App struct {
	ID        int64  `gorm:"primaryKey"`
	Name      string `gorm:"size:191;not null;uniqueIndex"`
	Raw       string // the export's "app" object, unknown keys kept
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Flow is a workflow; its definitions are FlowVersions.
type Flow struct {
	ID             int64  `gorm:"primaryKey"`
	AppID          int64  `gorm:"not null;index"`
	Name           string `gorm:"size:191;not null"`
	APIPath        string `gorm:"size:191;not null;uniqueIndex"`
	Enabled        bool   `gorm:"not null;default:true"`
	CurrentVersion int    `gorm:"not null;default:0"`
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// FlowVersion is one published definition of a flow. It never changes once
// written: a running ticket stays on the version it started with.
type FlowVersion struct {
	ID         int64  `gorm:"primaryKey"`
	FlowID     int64  `gorm:"not null;uniqueIndex:idx_flow_versions_flow_version,priority:1"`
	Version    int    `gorm:"not null;uniqueIndex:idx_flow_versions_flow_version,priority:2"`
	Definition string `gorm:"not null"` // the flow object of the export, as imported
	CreatedBy  *int64
	CreatedAt  time.Time
}

// FlowPermission is one entry of an export's "permission" list. Subject is a
// role or group name; GroupID is set when an administrator mapped a name that
// matched no group.
type FlowPermission struct {
	ID      int64  `gorm:"primaryKey"`
	FlowID  int64  `gorm:"not null;index"`
	Subject string `gorm:"size:191;not null"`
	GroupID *int64
	View    bool `gorm:"not null;default:false"`
	Add     bool `gorm:"not null;default:false"`
	Modify  bool `gorm:"not null;default:false"`
	Delete  bool `gorm:"not null;default:false"`
}

// Ticket is one case moving through a flow. The form's fields are a JSON
// object in Fields; the header columns are copied out of it for indexing.
type Ticket struct {
	ID            int64  `gorm:"primaryKey"`
	No            string `gorm:"size:64;uniqueIndex"`
	FlowID        int64  `gorm:"not null;index"`
	FlowVersionID int64  `gorm:"not null"`
	Version       int    `gorm:"not null"`
	Title         string `gorm:"size:500"`
	Status        string `gorm:"size:191;index"`
	Level         string `gorm:"size:16"`
	GroupName     string `gorm:"size:191;index"`
	AssigneeID    *int64 `gorm:"index"`
	CreatorID     int64  `gorm:"not null;index"`
	Closed        bool   `gorm:"not null;default:false"`
	Error         string
	Fields        string `gorm:"not null"` // JSON object: field id -> value
	Vars          string `gorm:"not null"` // JSON object: flow variables
	State         string `gorm:"not null"` // JSON: the engine's tokens and joins
	Revision      int64  `gorm:"not null;default:0"`
	CreatedAt     time.Time
	UpdatedAt     time.Time
	ClosedAt      *time.Time
}

// TicketEvent is the audit trail: one row for every step and every change.
type TicketEvent struct {
	ID        int64  `gorm:"primaryKey"`
	TicketID  int64  `gorm:"not null;index"`
	JobID     int64  `gorm:"not null;default:0"`
	Kind      string `gorm:"size:32;not null"`
	NodeID    string `gorm:"size:191"`
	NodeName  string `gorm:"size:191"`
	ActorID   *int64
	ActorName string `gorm:"size:191"`
	Message   string
	Changes   string // JSON object: field -> [old, new]
	At        time.Time
}

// Task states.
const (
	TaskOpen      = "open"
	TaskDone      = "done"
	TaskCancelled = "cancelled"
)

// Task is an inbox item: a ticket waiting at a form step for a person.
type Task struct {
	ID          int64  `gorm:"primaryKey"`
	TicketID    int64  `gorm:"not null;index"`
	NodeID      string `gorm:"size:191;not null"`
	NodeName    string `gorm:"size:191"`
	Token       string `gorm:"size:64"`
	GroupName   string `gorm:"size:191;index"`
	AssigneeID  *int64 `gorm:"index"`
	State       string `gorm:"size:16;not null;index"`
	Action      string `gorm:"size:16"`
	CompletedBy *int64
	CreatedAt   time.Time
	CompletedAt *time.Time
}

// Attachment is an uploaded file, kept in the database so every server of a
// cluster can serve it.
type Attachment struct {
	ID          int64  `gorm:"primaryKey"`
	TicketID    *int64 `gorm:"index"`
	FieldID     string `gorm:"size:64"`
	Name        string `gorm:"size:255;not null"`
	ContentType string `gorm:"size:191"`
	Size        int64
	SHA256      string `gorm:"size:64"`
	Data        []byte
	UploaderID  int64
	CreatedAt   time.Time
}

// Setting is one system setting.
type Setting struct {
	Key       string `gorm:"primaryKey;size:191"`
	Value     string
	UpdatedAt time.Time
}

// ChangeVersion counts changes of one kind of cached data (flows, settings,
// users, licence) so that servers can drop stale caches by polling it.
type ChangeVersion struct {
	Scope     string `gorm:"primaryKey;size:64"`
	Version   int64  `gorm:"not null;default:0"`
	UpdatedAt time.Time
}

// Job states.
const (
	JobReady  = "ready"
	JobLeased = "leased"
	JobFailed = "failed"
)

// Job is the outbox: one unit of flow work. It is written in the same
// transaction as the ticket change that caused it, claimed with a lease, and
// deleted in the same transaction as its effects.
type Job struct {
	ID           int64  `gorm:"primaryKey"`
	Kind         string `gorm:"size:32;not null"`
	TicketID     int64  `gorm:"not null"`
	NodeID       string `gorm:"size:191"`
	Payload      string
	State        string    `gorm:"size:16;not null;index:idx_jobs_due,priority:1"`
	RunAt        time.Time `gorm:"not null;index:idx_jobs_due,priority:2"`
	Attempts     int       `gorm:"not null;default:0"`
	LeaseOwner   string    `gorm:"size:191;index"`
	LeaseExpires *time.Time
	LeaseToken   int64 `gorm:"not null;default:0"`
	LastError    string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// BoosterLease is the active booster's lease: one row, rewritten each term.
type BoosterLease struct {
	Name      string `gorm:"primaryKey;size:64"`
	Holder    string `gorm:"size:191;not null"`
	Epoch     int64  `gorm:"not null"`
	ElectedAt time.Time
	ExpiresAt time.Time
}

// allModels lists every model in creation order.
func allModels() []any {
	return []any{
		&User{}, &Group{}, &GroupMember{}, &Role{}, &RoleMember{}, &Session{}, &APIToken{},
		&App{}, &Flow{}, &FlowVersion{}, &FlowPermission{}, &Ticket{}, &TicketEvent{}, &Task{},
		&Attachment{}, &Setting{}, &ChangeVersion{}, &Job{}, &BoosterLease{},
	}
}
