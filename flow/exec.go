package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/omflow/omflow/flow/def"
	"github.com/omflow/omflow/flow/expr"
	"github.com/omflow/omflow/flow/script"
	"github.com/omflow/omflow/store"
)

// Job kinds.
const kindStep = "step"

// maxChain bounds how many automatic steps one job runs before it hands the
// rest to new jobs, so a flow that loops without a human step cannot hold a
// worker forever.
const maxChain = 64

// maxSleepYears bounds a sleep node's wait.
const maxSleepYears = 100

// compiled is a parsed flow version with its scripts compiled on first use.
type compiled struct {
	flow    *def.Flow
	header  def.Header
	scripts sync.Map // node path -> *script.Program
}

// definition returns the parsed flow of a stored version (cached: versions
// never change).
func (e *Engine) definition(ctx context.Context, versionID int64) (*compiled, error) {
	if c, ok := e.defs.Load(versionID); ok {
		return c.(*compiled), nil
	}
	v, err := e.db.FlowVersionByID(ctx, versionID)
	if err != nil {
		return nil, err
	}
	f, err := def.ParseFlow([]byte(v.Definition))
	if err != nil {
		return nil, fmt.Errorf("flow version %d no longer parses: %w", versionID, err)
	}
	c := &compiled{flow: f, header: f.Form.HeaderFields()}
	actual, _ := e.defs.LoadOrStore(versionID, c)
	return actual.(*compiled), nil
}

func (c *compiled) program(path string, code string) (*script.Program, error) {
	if p, ok := c.scripts.Load(path); ok {
		return p.(*script.Program), nil
	}
	p, err := script.Compile(path, code)
	if err != nil {
		return nil, err
	}
	c.scripts.Store(path, p)
	return p, nil
}

// errHalt stops a ticket: a script failed or no switch rule held. The ticket
// keeps the message in its error column; an administrator looks at it.
type errHalt struct{ msg string }

func (e *errHalt) Error() string { return e.msg }

// RunJob executes a job this engine has claimed. Failures are recorded on
// the job (retried later) or on the ticket (halted in error); RunJob itself
// does not return them.
func (e *Engine) RunJob(ctx context.Context, j *store.Job) {
	start := time.Now()
	err := e.runJobSafely(ctx, j)
	if e.opts.Hooks.StepDone != nil {
		e.opts.Hooks.StepDone(j.Kind, time.Since(start), err)
	}
	if err == nil {
		return
	}
	if errors.Is(err, store.ErrConflict) {
		// Our lease was taken over: the new owner runs the job.
		e.log.Info("job lease lost; another node runs it", "job", j.ID, "ticket", j.TicketID)
		return
	}
	if ctx.Err() != nil {
		return // shutting down: Stop hands the job back
	}
	delay := min(time.Duration(1<<min(j.Attempts, 10))*time.Second, 10*time.Minute)
	e.log.Warn("job failed; will retry", "job", j.ID, "ticket", j.TicketID, "attempt", j.Attempts, "retry_in", delay, "err", err)
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if j.Attempts >= 20 {
		err = e.db.FailJob(bg, j, err.Error())
	} else {
		err = e.db.RetryJob(bg, j, delay, err.Error())
	}
	if err != nil {
		e.log.Error("record job failure", "job", j.ID, "err", err)
	}
}

// runJobSafely turns a panic while running a job into an error, so one bad
// ticket cannot take the server down; the job is retried and finally parked
// as failed.
func (e *Engine) runJobSafely(ctx context.Context, j *store.Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("job panicked", "job", j.ID, "ticket", j.TicketID, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("job %d panicked: %v", j.ID, p)
		}
	}()
	return e.runJob(ctx, j)
}

func (e *Engine) runJob(ctx context.Context, j *store.Job) error {
	if j.Kind != kindStep {
		return e.finishOnly(ctx, j, fmt.Sprintf("unknown job kind %q", j.Kind))
	}
	var p jobPayload
	if err := json.Unmarshal([]byte(j.Payload), &p); err != nil {
		return e.finishOnly(ctx, j, fmt.Sprintf("unreadable job payload: %v", err))
	}
	for attempt := 0; ; attempt++ {
		err := e.step(ctx, j, p)
		if !retryable(err) || attempt >= 50 {
			return err
		}
		// Another job of the same ticket committed first (or the database
		// chose this transaction as a deadlock victim): compute again on
		// the new revision.
		time.Sleep(time.Duration(rand.IntN(5+attempt*5)) * time.Millisecond)
	}
}

var errTicketChanged = errors.New("ticket changed while the step ran")

// retryable reports whether a step or a task completion can simply be
// computed and committed again.
func retryable(err error) bool {
	return errors.Is(err, errTicketChanged) || store.IsRetryable(err)
}

// finishOnly deletes a job that cannot run, logging why.
func (e *Engine) finishOnly(ctx context.Context, j *store.Job, why string) error {
	e.log.Error("dropping job", "job", j.ID, "ticket", j.TicketID, "reason", why)
	return e.db.Tx(ctx, func(ctx context.Context) error {
		if err := e.db.AddEvents(ctx, &store.TicketEvent{TicketID: j.TicketID, JobID: j.ID, Kind: "error", NodeID: j.NodeID, ActorName: "system", Message: why}); err != nil {
			return err
		}
		return e.db.FinishJob(ctx, j)
	})
}

// step reads the ticket, runs the token's steps in memory and commits them.
func (e *Engine) step(ctx context.Context, j *store.Job, p jobPayload) error {
	t, err := e.db.TicketByID(ctx, j.TicketID)
	if errors.Is(err, store.ErrNotFound) {
		return e.finishOnly(ctx, j, "ticket no longer exists")
	}
	if err != nil {
		return err
	}
	r, err := e.newRun(ctx, t, j)
	if err != nil {
		return err
	}
	tok := r.st.token(p.Token)
	want := waitJob
	if p.Leave {
		want = waitTimer
	}
	if t.Closed || t.Error != "" || tok == nil || tok.Node != j.NodeID || tok.Wait != want {
		// Closed, halted, or the job is stale (its token was consumed or
		// moved on meanwhile): nothing to do. FinishJob still fences: a
		// lost lease makes this a no-op for us.
		return e.db.Tx(ctx, func(ctx context.Context) error { return e.db.FinishJob(ctx, j) })
	}
	if p.Leave {
		r.leave(tok, j.NodeID)
	} else {
		r.push(tok, j.NodeID)
	}
	r.drain(ctx)
	if r.abort != nil {
		return r.abort
	}
	return r.commit(ctx)
}

// run is one job's worth of stepping on one ticket, in memory.
type run struct {
	e      *Engine
	t      *store.Ticket
	c      *compiled
	st     *ticketState
	fields map[string]any
	vars   map[string]any
	job    *store.Job      // nil when a person completes a task
	cx     context.Context // for look-ups while stepping

	queue  []pos
	events []*store.TicketEvent
	tasks  []*store.Task
	jobs   []*store.Job
	// cancel lists tokens dropped while waiting at a form (a subflow ended
	// under them): their open tasks are cancelled.
	cancel []string
	// waiting counts the tokens that waited at a form when the run began
	// (less the one of a task being completed): when none did, a closing
	// run cancels no earlier task and need not look them up.
	waiting int
	// cancelled are the earlier tasks the run's write cancelled, for the
	// TaskClosed hook (looked up only when the hook is set).
	cancelled []store.Task
	cur       *store.TicketEvent // the event of the node being entered
	users     map[string]*int64  // user look-ups of header()
	halt      string             // the ticket stops in error with this message
	abort     error              // the run must not commit (shutting down, store error)
	closed    bool
	steps     int
}

type pos struct {
	tok  *token
	path string
}

func (e *Engine) newRun(ctx context.Context, t *store.Ticket, j *store.Job) (*run, error) {
	c, err := e.definition(ctx, t.FlowVersionID)
	if err != nil {
		return nil, err
	}
	st, err := parseState(t.State)
	if err != nil {
		return nil, fmt.Errorf("ticket %d: %w", t.ID, err)
	}
	r := &run{e: e, t: t, c: c, st: st, job: j, cx: ctx}
	for _, tok := range st.Tokens {
		if tok.Wait == waitTask {
			r.waiting++
		}
	}
	if err := json.Unmarshal([]byte(t.Fields), &r.fields); err != nil {
		return nil, fmt.Errorf("ticket %d: read fields: %w", t.ID, err)
	}
	if t.Vars != "" {
		if err := json.Unmarshal([]byte(t.Vars), &r.vars); err != nil {
			return nil, fmt.Errorf("ticket %d: read variables: %w", t.ID, err)
		}
	}
	if r.fields == nil {
		r.fields = map[string]any{}
	}
	if r.vars == nil {
		r.vars = map[string]any{}
	}
	return r, nil
}

// expr.Env over the run's maps.
func (r *run) Var(name string) (any, bool) { v, ok := r.vars[name]; return v, ok }
func (r *run) Field(id string) (any, bool) { v, ok := r.fields[id]; return v, ok }
func (r *run) SetVar(name string, v any)   { r.vars[name] = v }
func (r *run) SetField(id string, v any)   { r.fields[id] = v }

var _ expr.Env = (*run)(nil)

func (r *run) jobID() int64 {
	if r.job == nil {
		return 0
	}
	return r.job.ID
}

// push queues tok to enter the node at path.
func (r *run) push(tok *token, path string) {
	tok.Node, tok.Wait = path, waitJob
	r.queue = append(r.queue, pos{tok, path})
}

// leave moves tok on from the node at path to every node a line leads to
// (a fork when there are several).
func (r *run) leave(tok *token, path string) {
	g, n, prefix, err := scope(r.c.flow.Graph, path)
	if err != nil {
		r.fail(path, "", err.Error())
		return
	}
	next := g.Next(n.ID)
	if len(next) == 0 {
		r.fail(path, n.Name, "no line leads on from this node")
		return
	}
	for i, id := range next {
		t := tok
		if i > 0 {
			t = r.st.newToken(prefix+id, waitJob)
		}
		r.push(t, prefix+id)
	}
}

// drain runs queued positions until every token waits or the chain limit is
// reached; what is left becomes new jobs. A closed or halted ticket keeps no
// jobs: nothing runs after it.
func (r *run) drain(ctx context.Context) {
	for len(r.queue) > 0 && r.halt == "" && !r.closed && r.abort == nil {
		p := r.queue[0]
		r.queue = r.queue[1:]
		if r.st.token(p.tok.ID) != p.tok {
			continue // dropped meanwhile (its subflow ended)
		}
		if r.steps >= maxChain {
			r.enqueue(p.tok, p.path, false, time.Time{})
			continue
		}
		r.steps++
		r.enter(ctx, p.tok, p.path)
	}
	if r.halt != "" || r.closed {
		r.queue, r.jobs = nil, nil
	}
}

// enqueue makes a job that will move tok at path later.
func (r *run) enqueue(tok *token, path string, leave bool, at time.Time) {
	b, _ := json.Marshal(jobPayload{Token: tok.ID, Leave: leave})
	r.jobs = append(r.jobs, &store.Job{Kind: kindStep, TicketID: r.t.ID, NodeID: path, Payload: string(b), RunAt: at})
}

// enter executes one node. Every node entered leaves one history entry:
// "step", or "task" (a form now waits for a person), "closed" (the end of
// the flow) or "error" (the ticket halted here).
func (r *run) enter(ctx context.Context, tok *token, path string) {
	g, n, prefix, err := scope(r.c.flow.Graph, path)
	if err != nil {
		r.fail(path, "", err.Error())
		return
	}
	before := maps.Clone(r.fields)
	ev := &store.TicketEvent{TicketID: r.t.ID, JobID: r.jobID(), Kind: "step", NodeID: path, NodeName: n.Name, ActorName: "system"}
	r.events = append(r.events, ev)
	r.cur = ev
	defer func() {
		ev.Changes = diff(before, r.fields)
		r.cur = nil
	}()
	cfg := n.Config
	switch n.Type {
	case def.NodeStart:
		if r.assign(path, n, cfg.Input, true) {
			r.leave(tok, path)
		}
	case def.NodeSetform:
		if r.assign(path, n, cfg.Input, false) {
			r.leave(tok, path)
		}
	case def.NodeForm:
		if !r.assign(path, n, cfg.Input, false) {
			return
		}
		if err := r.header(); err != nil {
			r.abort = err
			return
		}
		tok.Wait = waitTask
		task := &store.Task{TicketID: r.t.ID, NodeID: path, NodeName: n.Name, Token: tok.ID,
			GroupName: r.t.GroupName, AssigneeID: r.t.AssigneeID}
		r.tasks = append(r.tasks, task)
		ev.Kind = "task"
	case def.NodeSwitch:
		for _, rule := range cfg.Rules {
			v1, v2 := expr.Eval(rule.Value1, r), expr.Eval(rule.Value2, r)
			ok, err := expr.Holds(rule.Rule, v1, v2)
			if err != nil {
				r.fail(path, n.Name, err.Error())
				return
			}
			if ok {
				ev.Message = fmt.Sprintf("%s %s %s → %s", rule.Value1, rule.Rule, rule.Value2, rule.Target)
				r.push(tok, prefix+rule.Target)
				return
			}
		}
		r.fail(path, n.Name, "no rule holds")
	case def.NodePython:
		out, err := r.python(ctx, path, cfg)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, script.ErrCanceled) {
				// Stopped by shutdown, not by the script: run it again
				// elsewhere instead of halting the ticket.
				r.abort = fmt.Errorf("%s: %w", path, err)
				return
			}
			r.fail(path, n.Name, err.Error())
			return
		}
		ev.Message = out
		r.leave(tok, path)
	case def.NodeAsync:
		r.leave(tok, path)
	case def.NodeCollection:
		r.join(g, n, tok, path, prefix, ev)
	case def.NodeSubflow:
		sub := cfg.Flow
		if sub == nil || sub.Start() == nil {
			r.fail(path, n.Name, "subflow has no start node")
			return
		}
		if !r.assign(path, n, cfg.SubflowInput, true) {
			return
		}
		r.push(tok, path+"/"+sub.Start().ID)
	case def.NodeSleep:
		now := r.e.sleepNow().In(r.e.opts.Location)
		at, err := cfg.Sleep.WakeAt(now, func(ref string) any { return expr.Eval(ref, r) })
		if err != nil {
			r.fail(path, n.Name, err.Error())
			return
		}
		if limit := now.AddDate(maxSleepYears, 0, 0); at.After(limit) {
			r.fail(path, n.Name, fmt.Sprintf("wake-up time %s is more than %d years away", at.UTC().Format(time.RFC3339), maxSleepYears))
			return
		}
		tok.Wait = waitTimer
		ev.Message = "until " + at.UTC().Format(time.RFC3339Nano)
		// A time already past wakes at once (and stays in every
		// database's date range).
		r.enqueue(tok, path, true, latest(at, now))
	case def.NodeEnd:
		if !r.assign(path, n, cfg.Output, true) {
			return
		}
		if prefix != "" {
			r.endSubflow(tok, strings.TrimSuffix(prefix, "/"))
			return
		}
		r.closed = true
		r.st.Tokens = nil
		ev.Kind = "closed"
	default:
		r.fail(path, n.Name, fmt.Sprintf("unknown node type %q", n.Type))
	}
}

// join is a collection node: it waits until no other token of the ticket
// in the same (sub)flow can still reach it, then one token goes on and the
// others that waited here merge into it. Counting what can still arrive,
// rather than the incoming lines, keeps the join right when several
// branches come in through the same node, when a branch loops, and when a
// line comes straight from the fork.
func (r *run) join(g *def.Graph, n *def.Node, tok *token, path, prefix string, ev *store.TicketEvent) {
	tok.Node, tok.Wait = path, waitJoin
	arrived, pending := 1, 0
	for _, o := range r.st.Tokens {
		switch {
		case o == tok:
		case o.Node == path && o.Wait == waitJoin:
			arrived++
		case o.Node == path:
			pending++ // about to enter this node
		default:
			if from, ok := within(o.Node, prefix); ok && reaches(g, from, n.ID) {
				pending++
			}
		}
	}
	if pending > 0 {
		ev.Message = fmt.Sprintf("waiting: %s arrived, %d still on the way", branches(arrived), pending)
		return
	}
	for _, o := range slices.Clone(r.st.Tokens) {
		if o != tok && o.Node == path && o.Wait == waitJoin {
			r.st.drop(o.ID)
		}
	}
	ev.Message = fmt.Sprintf("joined: %s arrived", branches(arrived))
	r.leave(tok, path)
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func branches(n int) string {
	if n == 1 {
		return "1 branch"
	}
	return fmt.Sprintf("%d branches", n)
}

// within returns the node of the graph at prefix that a token at path is in
// (the subflow node when the token is deeper inside it).
func within(path, prefix string) (string, bool) {
	if !strings.HasPrefix(path, prefix) {
		return "", false
	}
	rest := path[len(prefix):]
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	return rest, rest != ""
}

// reaches reports whether a path of lines leads from node from to node to.
func reaches(g *def.Graph, from, to string) bool {
	seen := map[string]bool{from: true}
	queue := []string{from}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, next := range g.Next(id) {
			if next == to {
				return true
			}
			if !seen[next] {
				seen[next] = true
				queue = append(queue, next)
			}
		}
	}
	return false
}

// endSubflow finishes the subflow at path for tok: like the end of a flow
// it stops every other branch still inside it (their tasks are cancelled),
// applies the subflow node's subflow_output and goes on after that node.
func (r *run) endSubflow(tok *token, path string) {
	for _, o := range slices.Clone(r.st.Tokens) {
		if o != tok && strings.HasPrefix(o.Node, path+"/") {
			if o.Wait == waitTask {
				r.cancel = append(r.cancel, o.ID)
			}
			r.st.drop(o.ID)
		}
	}
	_, n, _, err := scope(r.c.flow.Graph, path)
	if err != nil {
		r.fail(path, "", err.Error())
		return
	}
	if r.assign(path, n, n.Config.SubflowOutput, true) {
		r.leave(tok, path)
	}
}

// assign applies assignments; on error the ticket halts. With bareVars a
// target that is a plain name is a flow variable (start inputs, end and
// subflow outputs). An assignment marked require must not produce an empty
// value.
func (r *run) assign(path string, n *def.Node, as []def.Assign, bareVars bool) bool {
	for _, a := range as {
		v := expr.Eval(a.Value, r)
		if a.Require && expr.Empty(v) {
			r.fail(path, n.Name, fmt.Sprintf("%s is required, but %s is empty", a.Name, a.Value))
			return false
		}
		if bareVars && expr.Parse(a.Name).Kind == expr.Literal {
			if name := a.VarName(); name != "" {
				r.vars[name] = v
				continue
			}
		}
		if err := expr.Set(a.Name, v, r); err != nil {
			r.fail(path, n.Name, err.Error())
			return false
		}
	}
	return true
}

// python runs a script node: inputs become globals, outputs are copied out.
func (r *run) python(ctx context.Context, path string, cfg def.NodeConfig) (string, error) {
	prog, err := r.c.program(path, cfg.Code)
	if err != nil {
		return "", err
	}
	globals := map[string]any{}
	for _, in := range cfg.Input {
		globals[in.VarName()] = expr.Eval(in.Value, r)
	}
	res, err := prog.Exec(ctx, globals, r.e.opts.ScriptLimits)
	if err != nil {
		return "", err
	}
	for _, out := range cfg.Output {
		src := expr.Parse(out.Value)
		name := src.Name
		if src.Kind == expr.Literal {
			name = strings.TrimSpace(out.Value)
		}
		v, ok := res.Globals[name]
		if !ok {
			continue
		}
		if err := expr.Set(out.Name, v, r); err != nil {
			return "", err
		}
	}
	if len(res.Log) > 0 {
		return column(strings.Join(res.Log, "\n"), 1000), nil
	}
	return "", nil
}

// fail halts the ticket in error. The history entry of the node being
// entered becomes the error entry; a failure outside a node adds one.
func (r *run) fail(path, name, msg string) {
	label := path
	if name != "" {
		label = fmt.Sprintf("%s (%s)", path, name)
	}
	r.halt = fmt.Sprintf("%s: %s", label, msg)
	if r.cur != nil && r.cur.NodeID == path {
		r.cur.Kind, r.cur.Message = "error", r.halt
		return
	}
	r.events = append(r.events, &store.TicketEvent{TicketID: r.t.ID, JobID: r.jobID(), Kind: "error",
		NodeID: path, NodeName: name, ActorName: "system", Message: r.halt})
}

// header copies the header fields into the ticket's columns. The user part
// of an h_group field is resolved to a user by id or username; a user that
// does not exist leaves the ticket unassigned (the group still applies).
func (r *run) header() error {
	h := r.c.header
	if h.Title != "" {
		r.t.Title = column(expr.Text(r.fields[h.Title]), 500)
	}
	if h.Status != "" {
		r.t.Status = column(expr.Text(r.fields[h.Status]), 191)
	}
	if h.Level != "" {
		r.t.Level = column(expr.Text(r.fields[h.Level]), 16)
	}
	if h.Group != "" {
		g, u := expr.GroupParts(r.fields[h.Group])
		r.t.GroupName = column(g, 191)
		r.t.AssigneeID = nil
		if u = strings.TrimSpace(u); u != "" {
			id, err := r.userID(u)
			if err != nil {
				return err
			}
			r.t.AssigneeID = id
		}
	}
	return nil
}

// userID resolves a user given by id or username (nil: no such user).
func (r *run) userID(ref string) (*int64, error) {
	if id, ok := r.users[ref]; ok {
		return id, nil
	}
	if !cleanText(ref) {
		return nil, nil // no username holds such text
	}
	var id *int64
	u, err := r.e.db.UserByRef(r.cx, ref)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("look up assigned user %q: %w", ref, err)
	default:
		id = &u.ID
	}
	if r.users == nil {
		r.users = map[string]*int64{}
	}
	r.users[ref] = id
	return id, nil
}

// commit writes the run's effects in one transaction, then runs the hooks.
func (r *run) commit(ctx context.Context) error {
	if err := r.header(); err != nil {
		return err
	}
	if err := r.e.db.Tx(ctx, r.write); err != nil {
		return err
	}
	r.e.committed(r.t, r.jobs, r.liveTasks())
	r.e.tasksClosed(r.t, r.cancelled)
	return nil
}

// write stores the run's effects; ctx must carry the transaction. The
// header columns must be up to date (header) before.
func (r *run) write(ctx context.Context) error {
	now := r.e.db.Now()
	if r.halt != "" {
		r.t.Error = column(r.halt, 2000)
	}
	if r.closed {
		r.t.Closed, r.t.ClosedAt = true, &now
	}
	r.t.State = r.st.encode()
	r.t.Fields = encodeJSON(r.fields)
	r.t.Vars = encodeJSON(r.vars)
	if err := r.e.db.UpdateTicket(ctx, r.t); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return errTicketChanged
		}
		return err
	}
	for _, t := range r.tasks {
		t.NodeName = column(t.NodeName, 191)
	}
	if err := r.e.db.CreateTasks(ctx, r.tasks...); err != nil {
		return err
	}
	r.cancelled = nil // write may run again when the transaction is retried
	switch {
	case r.closed || r.halt != "":
		// Nobody can work on a closed or halted ticket: its open tasks,
		// those made by this run included, are cancelled.
		if r.e.opts.Hooks.TaskClosed != nil && r.waiting > 0 {
			open, err := r.e.db.TicketTasks(ctx, r.t.ID, true)
			if err != nil {
				return err
			}
			for _, t := range open {
				if !r.made(t.ID) {
					t.State = store.TaskCancelled
					r.cancelled = append(r.cancelled, t)
				}
			}
		}
		if err := r.e.db.CancelOpenTasks(ctx, r.t.ID); err != nil {
			return err
		}
	case len(r.cancel) > 0:
		open, err := r.e.db.TicketTasks(ctx, r.t.ID, true)
		if err != nil {
			return err
		}
		for i := range open {
			if slices.Contains(r.cancel, open[i].Token) {
				if err := r.e.db.CloseTask(ctx, &open[i], store.TaskCancelled); err != nil {
					return err
				}
				if !r.made(open[i].ID) {
					r.cancelled = append(r.cancelled, open[i])
				}
			}
		}
	}
	for _, ev := range r.events {
		ev.NodeName, ev.Message = column(ev.NodeName, 191), column(ev.Message, 4000)
	}
	if err := r.e.db.AddEvents(ctx, r.events...); err != nil {
		return err
	}
	if err := r.e.db.EnqueueJobs(ctx, r.jobs...); err != nil {
		return err
	}
	if r.job != nil {
		return r.e.db.FinishJob(ctx, r.job)
	}
	return nil
}

// made reports whether task id was created by this run.
func (r *run) made(id int64) bool {
	return slices.ContainsFunc(r.tasks, func(t *store.Task) bool { return t.ID == id })
}

// liveTasks are the tasks this run made that are still open.
func (r *run) liveTasks() []*store.Task {
	if r.closed || r.halt != "" {
		return nil
	}
	var out []*store.Task
	for _, t := range r.tasks {
		if !slices.Contains(r.cancel, t.Token) {
			out = append(out, t)
		}
	}
	return out
}

// committed runs the hooks after a commit.
func (e *Engine) committed(t *store.Ticket, jobs []*store.Job, tasks []*store.Task) {
	if len(jobs) > 0 {
		refs := make([]JobRef, len(jobs))
		for i, j := range jobs {
			refs[i] = JobRef{ID: j.ID, TicketID: j.TicketID, RunAt: j.RunAt}
		}
		e.opts.Hooks.JobsCommitted(refs)
	}
	if e.opts.Hooks.TaskAssigned != nil {
		for _, task := range tasks {
			e.opts.Hooks.TaskAssigned(TaskView{ID: task.ID, TicketID: t.ID, TicketNo: t.No, FlowID: t.FlowID,
				NodeID: task.NodeID, NodeName: task.NodeName, Title: t.Title, Group: task.GroupName,
				AssigneeID: task.AssigneeID, State: task.State, CreatedAt: task.CreatedAt, Actions: []TaskAction{}})
		}
	}
}

// diff lists changed fields as [old, new].
func diff(before, after map[string]any) string {
	ch := map[string][2]any{}
	for k, v := range after {
		if old, ok := before[k]; !ok || !reflect.DeepEqual(old, v) {
			ch[k] = [2]any{before[k], v}
		}
	}
	for k, v := range before {
		if _, ok := after[k]; !ok {
			ch[k] = [2]any{v, nil}
		}
	}
	if len(ch) == 0 {
		return ""
	}
	return encodeJSON(ch)
}

func encodeJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// column makes text fit a database column: valid UTF-8, no NUL characters
// (PostgreSQL and MySQL refuse both), at most n bytes.
func column(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return truncate(s, n)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n-- // do not cut a UTF-8 sequence
	}
	return s[:n]
}
