package flow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omflow/omflow/flow/script"
	"github.com/omflow/omflow/store"
)

// Options configure an Engine. Zero values take defaults.
type Options struct {
	// Node names this process in job leases (NODE_NAME); a random suffix is
	// added so a restarted process does not mistake old leases for its own.
	Node     string
	Workers  int           // concurrent jobs; default 16
	LeaseTTL time.Duration // job lease; default 30s
	// Poll makes the engine claim due jobs from the database itself. A
	// standalone server always polls; a cluster server polls only while no
	// booster dispatches work (degraded mode). See SetPolling.
	Poll bool
	// ScriptLimits bound each python node run (flow/script defaults for
	// zero fields: a step budget and a time limit).
	ScriptLimits script.Limits
	// Location reads sleep-until times written without a zone; default
	// time.Local.
	Location *time.Location
	Logger   *slog.Logger
	Hooks    Hooks
}

// Hooks let other layers observe the engine without it knowing them.
type Hooks struct {
	// JobsCommitted is called after a transaction that enqueued jobs
	// commits. Default: wake the local poller.
	JobsCommitted func(jobs []JobRef)
	// TaskAssigned is called after a new task commits (live inbox updates).
	TaskAssigned func(t TaskView)
	// TaskClosed is called after a task leaves the open tasks and that
	// commits: completed by a person (State done), or cancelled because its
	// ticket closed, stopped in error or its subflow ended (State
	// cancelled). Tasks made and cancelled by the same run are not
	// reported, as TaskAssigned never reported them.
	TaskClosed func(t TaskView)
	// StepDone observes how long a job took to run (metrics).
	StepDone func(kind string, d time.Duration, err error)
	// FlowsChanged is called after apps or flows change (cluster events).
	FlowsChanged func()
	// JobDone is called when a job given to Submit is over here: claimed
	// and run (claimed true), or skipped because it was gone, not due or
	// held by another node (false). A booster counts it as no longer in
	// flight on this server.
	JobDone func(id int64, claimed bool)
}

// JobRef names an enqueued job and when it falls due.
type JobRef struct {
	ID       int64
	TicketID int64
	RunAt    time.Time
}

// Engine executes flows. Create it with New, then Start it.
type Engine struct {
	db    *store.DB
	log   *slog.Logger
	opts  Options
	owner string

	defs     sync.Map // flow version id -> *compiled
	versions sync.Map // versionKey -> *store.FlowVersion (without the definition)
	catalog  catalogCache
	// sleepNow is the time sleep nodes count from (the database clock;
	// tests move it).
	sleepNow func() time.Time

	polling  atomic.Bool
	wake     chan struct{}
	work     chan int64 // job ids submitted for execution
	inflight atomic.Int64
	halted   atomic.Bool // Stop was called

	mu      sync.Mutex
	cancel  context.CancelFunc
	done    sync.WaitGroup
	started bool
	stopped bool
}

// New returns an engine over db.
func New(db *store.DB, o Options) *Engine {
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.Node == "" {
		o.Node, _ = os.Hostname()
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	e := &Engine{
		db: db, log: o.Logger.With("component", "flow"), opts: o,
		owner: o.Node + "/" + hex.EncodeToString(b),
		wake:  make(chan struct{}, 1),
		work:  make(chan int64, o.Workers*4),
	}
	e.sleepNow = db.Now
	e.polling.Store(o.Poll)
	if e.opts.Hooks.JobsCommitted == nil {
		e.opts.Hooks.JobsCommitted = func([]JobRef) { e.Wake() }
	}
	return e
}

// Owner is the lease owner name of this engine's jobs.
func (e *Engine) Owner() string { return e.owner }

// DB returns the store the engine works on.
func (e *Engine) DB() *store.DB { return e.db }

// Start launches the workers and, when polling, the poller. It returns at
// once; Stop ends them.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return errors.New("flow engine already started")
	}
	e.started = true
	ctx, e.cancel = context.WithCancel(ctx)
	for i := 0; i < e.opts.Workers; i++ {
		e.done.Add(1)
		go e.worker(ctx)
	}
	e.done.Add(2)
	go e.poller(ctx)
	go e.watchVersions(ctx)
	return nil
}

// Stop stops claiming work, lets running jobs finish, and hands every job
// this engine still holds back to the database so another node can run it
// at once. A second Stop is harmless.
func (e *Engine) Stop() {
	e.mu.Lock()
	if !e.started || e.stopped {
		e.mu.Unlock()
		return
	}
	e.stopped = true
	e.halted.Store(true)
	e.cancel()
	e.mu.Unlock()
	e.done.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n, err := e.db.ReleaseOwner(ctx, e.owner); err != nil {
		e.log.Error("hand back jobs on stop", "err", err)
	} else if n > 0 {
		e.log.Info("handed back jobs on stop", "jobs", n)
	}
}

// SetPolling turns claiming due jobs from the database on or off.
func (e *Engine) SetPolling(on bool) {
	if e.polling.Swap(on) != on && on {
		e.Wake()
	}
}

// Polling reports whether the engine claims jobs from the database itself.
func (e *Engine) Polling() bool { return e.polling.Load() }

// Wake makes the poller look for due jobs now.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Load is the number of jobs running or queued on this engine.
func (e *Engine) Load() int { return int(e.inflight.Load()) + len(e.work) }

// Capacity is the number of jobs the engine runs at once.
func (e *Engine) Capacity() int { return e.opts.Workers }

// Submit queues a job id to be claimed and run here (dispatch by a
// booster). It returns false when the queue is full or the engine stopped.
func (e *Engine) Submit(id int64) bool {
	if e.halted.Load() {
		return false
	}
	select {
	case e.work <- id:
		return true
	default:
		return false
	}
}

func (e *Engine) worker(ctx context.Context) {
	defer e.done.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-e.work:
			e.inflight.Add(1)
			claimed := e.runID(ctx, id)
			e.inflight.Add(-1)
			if e.opts.Hooks.JobDone != nil {
				e.opts.Hooks.JobDone(id, claimed)
			}
		}
	}
}

// runID claims and runs one job; it reports whether it claimed it. A job
// that another node holds is skipped.
func (e *Engine) runID(ctx context.Context, id int64) bool {
	j, err := e.db.ClaimJob(ctx, id, e.owner, e.opts.LeaseTTL)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("claim job", "job", id, "err", err)
		}
		return false
	}
	if j == nil {
		return false
	}
	e.RunJob(ctx, j)
	return true
}

// poller claims due jobs while polling is on, as fast as workers free up,
// and sleeps until woken or until the next timer falls due.
func (e *Engine) poller(ctx context.Context) {
	defer e.done.Done()
	idle := time.NewTimer(0)
	defer idle.Stop()
	for {
		wait := time.Second
		if e.polling.Load() {
			free := e.opts.Workers - e.Load()
			if free > 0 {
				jobs, err := e.db.ClaimDue(ctx, e.owner, free, e.opts.LeaseTTL)
				if err != nil && ctx.Err() == nil {
					e.log.Warn("claim due jobs", "err", err)
					wait = 2 * time.Second
				}
				for _, j := range jobs {
					j := j
					e.inflight.Add(1)
					e.done.Add(1)
					go func() {
						defer e.done.Done()
						e.RunJob(ctx, j)
						e.inflight.Add(-1)
						e.Wake() // a worker is free: claim the next due job now
					}()
				}
				if len(jobs) == free {
					wait = 0 // more may be due
				} else if len(jobs) == 0 && err == nil {
					// Nothing due now (running jobs wake us when they end):
					// sleep until the next timer.
					if next, err := e.db.NextRunAt(ctx); err == nil && !next.IsZero() {
						if d := next.Sub(e.db.Now()); d < wait {
							wait = max(d, 10*time.Millisecond)
						}
					}
				}
			} else {
				wait = 50 * time.Millisecond // all busy: look again soon
			}
		}
		if wait == 0 {
			continue
		}
		idle.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		case <-idle.C:
		}
	}
}

// watchVersions drops cached flow catalogs when another server changed
// them. Cluster events make this faster; this is the fallback.
func (e *Engine) watchVersions(ctx context.Context) {
	defer e.done.Done()
	t := time.NewTicker(3 * time.Second)
	defer t.Stop()
	var last int64 = -1
	for tick := 1; ; tick++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if tick%20 == 0 { // the database clock drifts slowly: once a minute
			_ = e.db.SyncClock(ctx)
		}
		vs, err := e.db.Versions(ctx)
		if err != nil {
			continue
		}
		if v := vs[scopeFlows]; v != last {
			if last != -1 {
				e.Invalidate()
			}
			last = v
		}
	}
}
