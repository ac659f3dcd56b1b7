package flow

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/omflow/omflow/store"
)

// scopeFlows is the change counter bumped when apps, flows or permissions
// change.
const scopeFlows = "flows"

// catalogCache holds every flow with its app name and permissions. Flows are
// few and read on every request, so the whole catalog is loaded at once and
// dropped when the "flows" change counter moves.
type catalogCache struct {
	mu  sync.Mutex
	cur *catalog
}

type catalog struct {
	byID   map[int64]*flowEntry
	byPath map[string]*flowEntry
	list   []*flowEntry
}

type flowEntry struct {
	store.Flow
	App   string
	Perms []store.FlowPermission
}

// Invalidate drops cached flows and permissions.
func (e *Engine) Invalidate() {
	e.catalog.mu.Lock()
	e.catalog.cur = nil
	e.catalog.mu.Unlock()
}

func (e *Engine) loadCatalog(ctx context.Context) (*catalog, error) {
	e.catalog.mu.Lock()
	defer e.catalog.mu.Unlock()
	if e.catalog.cur != nil && !store.InTx(ctx) {
		return e.catalog.cur, nil
	}
	apps, err := e.db.Apps(ctx)
	if err != nil {
		return nil, err
	}
	names := map[int64]string{}
	for _, a := range apps {
		names[a.ID] = a.Name
	}
	flows, err := e.db.Flows(ctx, 0)
	if err != nil {
		return nil, err
	}
	perms, err := e.db.Permissions(ctx)
	if err != nil {
		return nil, err
	}
	c := &catalog{byID: map[int64]*flowEntry{}, byPath: map[string]*flowEntry{}}
	for _, f := range flows {
		fe := &flowEntry{Flow: f, App: names[f.AppID]}
		c.byID[f.ID], c.byPath[f.APIPath] = fe, fe
		c.list = append(c.list, fe)
	}
	for _, p := range perms {
		if fe := c.byID[p.FlowID]; fe != nil {
			fe.Perms = append(fe.Perms, p)
		}
	}
	if !store.InTx(ctx) {
		e.catalog.cur = c
	}
	return c, nil
}

// flow finds a flow by id or api_path.
func (e *Engine) flow(ctx context.Context, ref string) (*flowEntry, error) {
	c, err := e.loadCatalog(ctx)
	if err != nil {
		return nil, err
	}
	fe := c.byPath[ref]
	if fe == nil {
		if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
			fe = c.byID[id]
		}
	}
	if fe == nil {
		return nil, &InputError{Kind: ErrNotFound, Code: "flow_not_found", Field: "flow", Message: fmt.Sprintf("no flow %q", ref)}
	}
	return fe, nil
}

// flowByID finds a flow by its id only (an api_path never shadows it).
func (e *Engine) flowByID(ctx context.Context, id int64) (*flowEntry, error) {
	c, err := e.loadCatalog(ctx)
	if err != nil {
		return nil, err
	}
	if fe := c.byID[id]; fe != nil {
		return fe, nil
	}
	return nil, &InputError{Kind: ErrNotFound, Code: "flow_not_found", Field: "flow", Message: fmt.Sprintf("no flow %d", id)}
}

// Permission operations.
const (
	opView   = "view"
	opAdd    = "add"
	opModify = "modify"
	opDelete = "delete"
)

// may reports whether a may do op on flow fe. Administrators may do
// anything. A flow whose export has no permission entries is open to every
// user (OMFLOW's behaviour for apps without permission settings). Otherwise
// an entry applies to the actor when it names one of the actor's roles or
// groups, or was mapped by an administrator to one of the actor's groups;
// the built-in role names "user" and "everyone" apply to every user.
func (a *Actor) may(fe *flowEntry, op string) bool {
	if a == nil {
		return false
	}
	if a.Admin {
		return true
	}
	if len(fe.Perms) == 0 {
		return true
	}
	for _, p := range fe.Perms {
		if !a.matches(p) {
			continue
		}
		switch op {
		case opView:
			if p.View || p.Add || p.Modify {
				return true
			}
		case opAdd:
			if p.Add {
				return true
			}
		case opModify:
			if p.Modify {
				return true
			}
		case opDelete:
			if p.Delete {
				return true
			}
		}
	}
	return false
}

func (a *Actor) matches(p store.FlowPermission) bool {
	if p.Subject == "user" || p.Subject == "everyone" { // "admin" needs no entry: administrators may do anything
		return true
	}
	for _, r := range a.Roles {
		if r == p.Subject {
			return true
		}
	}
	for _, g := range a.Groups {
		if g.Name == p.Subject || (p.GroupID != nil && *p.GroupID == g.ID) {
			return true
		}
	}
	return false
}

// inGroup reports whether the actor belongs to group, given by id or name
// as a task or ticket stores it.
func (a *Actor) inGroup(group string) bool {
	if group == "" {
		return false
	}
	for _, g := range a.Groups {
		if g.Name == group || strconv.FormatInt(g.ID, 10) == group {
			return true
		}
	}
	return false
}

// groupKeys lists the actor's groups as tasks may name them: names and ids.
func (a *Actor) groupKeys() []string {
	out := make([]string, 0, 2*len(a.Groups))
	for _, g := range a.Groups {
		out = append(out, g.Name, strconv.FormatInt(g.ID, 10))
	}
	return out
}

func forbidden(format string, args ...any) error {
	return &InputError{Kind: ErrForbidden, Code: "forbidden", Message: fmt.Sprintf(format, args...)}
}

func notFoundErr(code, format string, args ...any) error {
	return &InputError{Kind: ErrNotFound, Code: code, Message: fmt.Sprintf(format, args...)}
}
