package booster

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/omflow/omflow/cluster"
	"github.com/omflow/omflow/cluster/elect"
	"github.com/omflow/omflow/cluster/rpcpb"
	"github.com/omflow/omflow/store"
)

// Reasons a session ends, sent to the server as a Redirect when the term is
// over.
const (
	reasonTermOver = "this booster is no longer active"
	reasonReplaced = "replaced by a newer stream of the same server"
	reasonDead     = "gossip reports the server dead"
	reasonSlow     = "the server does not read its stream"
)

// session is one server's Connect stream. The fields below the line are
// owned by the dispatcher's loop.
type session struct {
	id               uint64
	name, addr, http string
	version          string
	out              chan *rpcpb.BoosterMsg
	ended            chan string  // the dispatcher ended the session, and why
	lastRecv         atomic.Int64 // when the server last sent something (unix ns)
	// owned by the dispatcher's loop:
	endSent      bool
	capacity     int
	reported     int                // jobs running or queued, as the server last said
	acked        int64              // job ids the server had received when it said so
	sent         int64              // job ids dispatched on this stream
	assigned     map[int64]struct{} // dispatched here, not reported done
	lastDispatch time.Time
}

// load is what the dispatcher counts as the server's work: what it last
// reported (its own jobs included, such as those it claimed in degraded
// mode) plus what was dispatched after that report.
func (s *session) load() int { return s.reported + int(s.sent-s.acked) }

func (s *session) free() int { return s.capacity - s.load() }

// end tells the session's handler to stop (once).
func (s *session) end(reason string) {
	if s.endSent {
		return
	}
	s.endSent = true
	s.ended <- reason // buffered 1, sent once
}

type flight struct {
	s  *session
	at time.Time // dispatched at
}

// Dispatcher inputs.
type (
	openMsg struct {
		s     *session
		reply chan bool
	}
	sessionClosed struct{ s *session }
	loadMsg       struct {
		s                 *session
		running, capacity int
		received          int64
	}
	doneMsg struct {
		s       *session
		results []*rpcpb.JobResult
	}
	readyMsg struct {
		s     *session
		count int
		jobs  []*rpcpb.ReadyJob
		at    time.Time
	}
	eventMsg struct {
		from *session
		ev   *rpcpb.ClusterEvent
	}
	memberDown struct {
		name    string
		recheck bool
	}
	releasedMsg struct {
		name string
		n    int64
		err  error
	}
	scanResult struct {
		ids     []int64
		next    time.Time
		started time.Time
		limit   int
		err     error
	}
	versionsMsg struct {
		v   map[string]int64
		err error
	}
)

// dispatcher is the active booster's state for one term. One goroutine
// (run) owns it; everything else posts messages.
type dispatcher struct {
	b     *Booster
	term  elect.Term
	fence store.Fence
	in    chan any
	done  chan struct{}
	ctx   context.Context

	sessions   map[uint64]*session
	byName     map[string]*session
	pending    []int64
	pendSince  map[int64]time.Time // when the booster learnt the job is due
	inflight   map[int64]*flight
	recentDone map[int64]time.Time

	scanning, scanWanted, lastFull bool
	scanFailures                   int

	timer   *time.Timer
	timerAt time.Time

	versions     map[string]int64
	versionsBusy bool

	started       time.Time
	dispatchedAny bool
}

func newDispatcher(b *Booster, t elect.Term) *dispatcher {
	return &dispatcher{
		b: b, term: t, fence: store.Fence{Lease: b.cfg.LeaseName, Holder: t.Holder, Epoch: t.Epoch},
		in: make(chan any, 1024), done: make(chan struct{}),
		sessions: map[uint64]*session{}, byName: map[string]*session{},
		pendSince: map[int64]time.Time{}, inflight: map[int64]*flight{}, recentDone: map[int64]time.Time{},
	}
}

// post hands m to the loop; it is dropped once the term is over.
func (d *dispatcher) post(m any) {
	select {
	case d.in <- m:
	case <-d.done:
	}
}

// open registers a session; false when the term is over.
func (d *dispatcher) open(s *session) bool {
	reply := make(chan bool, 1)
	select {
	case d.in <- openMsg{s: s, reply: reply}:
	case <-d.done:
		return false
	}
	select {
	case ok := <-reply:
		return ok
	case <-d.done:
		return false
	}
}

func (d *dispatcher) run(ctx context.Context) {
	d.ctx, d.started = ctx, time.Now()
	defer close(d.done)
	sweep := time.NewTicker(d.b.cfg.SweepEvery)
	defer sweep.Stop()
	vers := time.NewTicker(d.b.cfg.VersionsEvery)
	defer vers.Stop()
	d.timer = time.NewTimer(time.Hour)
	d.timer.Stop()
	defer d.timer.Stop()

	d.releaseDeadMembers()
	d.requestScan()
	d.readVersions()
	for {
		select {
		case <-ctx.Done():
			d.shutdown()
			return
		case m := <-d.in:
			d.handle(m)
			// Take what else is waiting before dispatching, so one
			// dispatch round serves a burst of messages.
		drain:
			for range 256 {
				select {
				case m := <-d.in:
					d.handle(m)
				default:
					break drain
				}
			}
		case <-sweep.C:
			d.requestScan()
			d.pruneRecent()
		case <-d.timer.C:
			d.timerAt = time.Time{}
			d.requestScan()
		case <-vers.C:
			d.readVersions()
		}
		d.dispatch()
		d.b.m.pending.Set(float64(len(d.pending)))
		d.b.m.inflight.Set(float64(len(d.inflight)))
	}
}

// shutdown ends every session with a Redirect: the term is over.
func (d *dispatcher) shutdown() {
	for _, s := range d.sessions {
		s.end(reasonTermOver)
	}
	d.b.m.sessions.Set(0)
	d.b.m.pending.Set(0)
	d.b.m.inflight.Set(0)
}

func (d *dispatcher) handle(m any) {
	switch m := m.(type) {
	case openMsg:
		if old := d.byName[m.s.name]; old != nil {
			d.closeSession(old, reasonReplaced)
		}
		d.sessions[m.s.id] = m.s
		d.byName[m.s.name] = m.s
		d.b.m.sessions.Set(float64(len(d.sessions)))
		m.reply <- true
		d.requestScan()
	case sessionClosed:
		if d.sessions[m.s.id] == m.s {
			d.closeSession(m.s, "")
		}
	case loadMsg:
		if d.sessions[m.s.id] == m.s && m.received <= m.s.sent {
			m.s.reported, m.s.acked = m.running, m.received
			if m.capacity > 0 {
				m.s.capacity = m.capacity
			}
		}
	case doneMsg:
		d.jobsDone(m)
	case readyMsg:
		d.jobsReady(m)
	case eventMsg:
		d.relay(m)
	case memberDown:
		d.memberDown(m.name, m.recheck)
	case releasedMsg:
		switch {
		case m.err != nil:
			d.b.logger.Warn("booster: could not release the jobs of a dead server; they run again when their leases expire", "server", m.name, "err", m.err)
		case m.n > 0:
			d.b.logger.Info("booster: released the jobs of a dead server", "server", m.name, "jobs", m.n, "epoch", d.term.Epoch)
			d.b.m.released.Add(float64(m.n))
		}
		d.requestScan()
	case scanResult:
		d.scanned(m)
	case versionsMsg:
		d.versionsRead(m)
	}
}

// closeSession forgets a session. Its jobs that were dispatched and not
// claimed show up in the next sweep and go elsewhere.
func (d *dispatcher) closeSession(s *session, reason string) {
	delete(d.sessions, s.id)
	if d.byName[s.name] == s {
		delete(d.byName, s.name)
	}
	for id := range s.assigned {
		if f := d.inflight[id]; f != nil && f.s == s {
			delete(d.inflight, id)
		}
	}
	clear(s.assigned)
	if reason != "" {
		d.b.logger.Info("booster: server stream closed", "server", s.name, "reason", reason)
		s.end(reason)
	}
	d.b.m.sessions.Set(float64(len(d.sessions)))
	d.requestScan()
}

func (d *dispatcher) jobsDone(m doneMsg) {
	now := time.Now()
	recheck := false
	for _, r := range m.results {
		id := r.GetJobId()
		f := d.inflight[id]
		mine := f != nil && f.s == m.s
		if mine {
			delete(d.inflight, id)
			delete(m.s.assigned, id)
		}
		switch {
		case r.GetRejected():
			d.b.m.rejected.Inc()
			if mine {
				// The server's queue is full: count it full until it
				// reports again, and dispatch the job elsewhere now.
				m.s.reported = max(m.s.reported, m.s.capacity+int(m.s.acked-m.s.sent))
				d.addPending(id, f.at)
			}
		case !r.GetClaimed():
			// Gone, not due yet (clocks differ by a few ms) or held by
			// another node. Look again soon rather than at the next sweep.
			d.b.m.unclaimed.Inc()
			d.recentDone[id] = now
			recheck = true
		default:
			d.recentDone[id] = now
		}
	}
	if recheck {
		d.setTimer(d.b.cfg.Store.Now().Add(100 * time.Millisecond))
	}
}

// readyWindow: a job named in JobsReady that falls due within this much is
// dispatched now rather than by a timer (clock estimates differ by less).
const readyWindow = 20 * time.Millisecond

func (d *dispatcher) jobsReady(m readyMsg) {
	if len(m.jobs) == 0 {
		d.requestScan()
		return
	}
	now := d.b.cfg.Store.Now()
	for _, j := range m.jobs {
		if ms := j.GetRunAtUnixMs(); ms != 0 {
			if at := time.UnixMilli(ms); at.After(now.Add(readyWindow)) {
				d.setTimer(at)
				continue
			}
		}
		if _, busy := d.inflight[j.GetId()]; busy {
			continue
		}
		d.addPending(j.GetId(), m.at)
	}
}

func (d *dispatcher) addPending(id int64, since time.Time) {
	if _, ok := d.pendSince[id]; ok {
		return
	}
	if len(d.pending) >= maxPending {
		d.lastFull = true // the sweep finds it later
		return
	}
	d.pending = append(d.pending, id)
	d.pendSince[id] = since
}

func (d *dispatcher) relay(m eventMsg) {
	if d.sessions[m.from.id] != m.from {
		return
	}
	d.b.m.events.Inc()
	msg := &rpcpb.BoosterMsg{Msg: &rpcpb.BoosterMsg_Event{Event: m.ev}}
	for _, s := range d.sessions {
		if s != m.from {
			d.send(s, msg)
		}
	}
}

func (d *dispatcher) broadcast(ev *rpcpb.ClusterEvent) {
	d.b.m.events.Inc()
	msg := &rpcpb.BoosterMsg{Msg: &rpcpb.BoosterMsg_Event{Event: ev}}
	for _, s := range d.sessions {
		d.send(s, msg)
	}
}

// send queues msg on s; a server that does not read its stream is dropped.
func (d *dispatcher) send(s *session, msg *rpcpb.BoosterMsg) bool {
	select {
	case s.out <- msg:
		return true
	default:
		d.closeSession(s, reasonSlow)
		return false
	}
}

// heardWithin: a server heard from this recently is alive whatever gossip
// says (its stream carries a Load report at least every 300 ms). Gossip can
// declare a busy node dead by mistake when its probes time out under load.
const heardWithin = 400 * time.Millisecond

// memberDown drops a dead server's stream and releases its jobs under the
// fence, in the background; the loop goes on. A server whose stream is
// still talking is looked at again shortly, as long as gossip keeps it
// dead.
func (d *dispatcher) memberDown(name string, recheck bool) {
	if recheck && !d.stillDown(name) {
		return
	}
	if s := d.byName[name]; s != nil {
		if time.Since(time.Unix(0, s.lastRecv.Load())) < heardWithin {
			if !recheck {
				d.b.logger.Info("booster: gossip reports a server dead but its stream is live; checking again before releasing its jobs", "server", name)
			}
			time.AfterFunc(heardWithin/2, func() { d.post(memberDown{name: name, recheck: true}) })
			return
		}
		d.closeSession(s, reasonDead)
	}
	ctx := d.ctx
	fence := d.fence
	st := d.b.cfg.Store
	go func() {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		n, err := st.ReleaseNodeJobsFenced(cctx, fence, name)
		if ctx.Err() != nil {
			return
		}
		d.post(releasedMsg{name: name, n: n, err: err})
	}()
}

// releaseDeadMembers releases the jobs of servers that died before this
// term began (their leases may not have run out yet).
func (d *dispatcher) releaseDeadMembers() {
	if d.b.cfg.Members == nil {
		return
	}
	for _, m := range d.b.cfg.Members.Members() {
		if m.State == cluster.StateDead && (m.Meta.Role == cluster.RoleServer || m.Meta.Role == cluster.RoleSlave) {
			d.memberDown(m.Name, false)
		}
	}
}

// stillDown reports whether gossip still shows node dead or gone (true
// without gossip).
func (d *dispatcher) stillDown(node string) bool {
	if d.b.cfg.Members == nil {
		return true
	}
	for _, m := range d.b.cfg.Members.Members() {
		if m.Name == node {
			return m.State == cluster.StateDead || m.State == cluster.StateLeft
		}
	}
	return true
}

// freeCapacity is the room left on all servers.
func (d *dispatcher) freeCapacity() int {
	n := 0
	for _, s := range d.sessions {
		n += max(0, s.free())
	}
	return n
}

// leastLoaded is the server with room and the smallest share of its
// capacity in use; ties go to the one that got work longest ago.
func (d *dispatcher) leastLoaded() *session {
	var best *session
	var bestLoad, bestCap int
	for _, s := range d.sessions {
		if s.free() <= 0 {
			continue
		}
		l, c := s.load(), s.capacity
		if best == nil {
			best, bestLoad, bestCap = s, l, c
			continue
		}
		// l/c < bestLoad/bestCap, in integers.
		switch a, b := l*bestCap, bestLoad*c; {
		case a < b, a == b && s.lastDispatch.Before(best.lastDispatch):
			best, bestLoad, bestCap = s, l, c
		}
	}
	return best
}

// dispatch hands pending jobs to servers, least loaded first, never beyond
// a server's capacity, one Dispatch message per server.
func (d *dispatcher) dispatch() {
	if len(d.pending) == 0 {
		if d.lastFull && !d.scanning && d.freeCapacity() > 0 {
			d.requestScan()
		}
		return
	}
	now := time.Now()
	batches := map[*session][]int64{}
	i := 0
	for ; i < len(d.pending); i++ {
		id := d.pending[i]
		if _, busy := d.inflight[id]; busy {
			delete(d.pendSince, id)
			continue
		}
		s := d.leastLoaded()
		if s == nil {
			break
		}
		since := d.pendSince[id]
		delete(d.pendSince, id)
		s.assigned[id] = struct{}{}
		s.sent++
		s.lastDispatch = now
		d.inflight[id] = &flight{s: s, at: now}
		batches[s] = append(batches[s], id)
		if !since.IsZero() {
			d.b.m.latency.Observe(now.Sub(since).Seconds())
		}
	}
	if i == len(d.pending) {
		d.pending = d.pending[:0]
	} else {
		d.pending = append(d.pending[:0], d.pending[i:]...)
	}
	for s, ids := range batches {
		msg := &rpcpb.BoosterMsg{Msg: &rpcpb.BoosterMsg_Dispatch{Dispatch: &rpcpb.Dispatch{JobIds: ids, Epoch: d.term.Epoch}}}
		if d.sessions[s.id] != s {
			continue // dropped while sending to another server
		}
		if d.send(s, msg) {
			d.b.m.dispatched.Add(float64(len(ids)))
			if !d.dispatchedAny {
				d.dispatchedAny = true
				d.b.logger.Info("booster: first dispatch of this term", "epoch", d.term.Epoch, "server", s.name,
					"jobs", len(ids), "since_active", time.Since(d.started).Round(time.Millisecond))
			}
		}
	}
}

// requestScan reads the due jobs in the background (one scan at a time).
func (d *dispatcher) requestScan() {
	if d.scanning {
		d.scanWanted = true
		return
	}
	d.scanning, d.scanWanted = true, false
	limit := min(max(d.freeCapacity()*2+len(d.inflight)+100, 100), maxScan)
	ctx, st := d.ctx, d.b.cfg.Store
	go func() {
		started := time.Now()
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		// The next due time first: a job that falls due between the two
		// reads is then in the due list, not lost between "not due yet"
		// and "no longer in the future".
		next, err := st.NextDueAt(cctx)
		var ids []int64
		if err == nil {
			ids, err = st.DueJobIDs(cctx, limit)
		}
		d.post(scanResult{ids: ids, next: next, started: started, limit: limit, err: err})
	}()
}

func (d *dispatcher) scanned(r scanResult) {
	d.scanning = false
	d.b.m.sweeps.Inc()
	if r.err != nil {
		d.scanFailures++
		if d.scanFailures == 1 || d.scanFailures%60 == 0 {
			d.b.logger.Warn("booster: cannot read the jobs table; servers fall back to claiming jobs themselves if this lasts", "err", r.err, "failures", d.scanFailures)
		}
	} else {
		d.scanFailures = 0
		for _, id := range r.ids {
			if _, ok := d.pendSince[id]; ok {
				continue
			}
			if f := d.inflight[id]; f != nil {
				if r.started.Sub(f.at) < d.b.cfg.RedispatchAfter {
					continue // dispatched moments ago; not claimed yet
				}
				// Dispatched long ago and still not claimed: the server
				// lost it. Dispatch it again (one claim wins).
				delete(f.s.assigned, id)
				delete(d.inflight, id)
				d.b.m.redispatched.Inc()
			}
			if t, ok := d.recentDone[id]; ok && t.After(r.started) {
				continue // finished while the scan ran
			}
			d.addPending(id, r.started)
		}
		d.lastFull = len(r.ids) >= r.limit
		if !r.next.IsZero() {
			d.setTimer(r.next)
		}
	}
	if d.scanWanted {
		d.requestScan()
	}
}

// setTimer makes a sweep run at t (database clock) unless one is due
// earlier.
func (d *dispatcher) setTimer(t time.Time) {
	if !d.timerAt.IsZero() && !t.Before(d.timerAt) {
		return
	}
	d.timerAt = t
	d.timer.Reset(max(t.Sub(d.b.cfg.Store.Now()), time.Millisecond))
}

func (d *dispatcher) pruneRecent() {
	cut := time.Now().Add(-10 * time.Second)
	for id, t := range d.recentDone {
		if t.Before(cut) {
			delete(d.recentDone, id)
		}
	}
}

// readVersions reads the change counters in the background.
func (d *dispatcher) readVersions() {
	if d.versionsBusy {
		return
	}
	d.versionsBusy = true
	ctx, st := d.ctx, d.b.cfg.Store
	go func() {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		v, err := st.Versions(cctx)
		d.post(versionsMsg{v: v, err: err})
	}()
}

// EventChangedPrefix starts the kind of the events the booster sends when a
// change counter moves: "changed:" and the scope (flows, settings, groups,
// users, licence...). Servers drop their caches of that scope.
const EventChangedPrefix = "changed:"

func (d *dispatcher) versionsRead(m versionsMsg) {
	d.versionsBusy = false
	if m.err != nil {
		return
	}
	if d.versions != nil {
		for scope, v := range m.v {
			if old, ok := d.versions[scope]; !ok || old != v {
				d.broadcast(&rpcpb.ClusterEvent{Kind: EventChangedPrefix + scope, Version: v})
			}
		}
	}
	d.versions = m.v
}
