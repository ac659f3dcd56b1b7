package clustertest

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The relay flow of testdata/relay.json: every ticket runs start → 受付
// (setform) → 計算 (python) → 偶奇判定 (switch) → 偶数 or 奇数 (setform) →
// 待機1秒 (sleep 1 s) → 完了 (setform) → 終了 (end) with no person
// involved, and ends closed with known field values.
const (
	RelayFlow   = "relay"
	FieldTitle  = "FORMITM_1"
	FieldN      = "FORMITM_2"
	FieldState  = "FORMITM_3"
	FieldTwice  = "FORMITM_4"
	FieldParity = "FORMITM_5"
	FieldRef    = "FORMITM_6"
)

// RelayPath returns the nodes a relay ticket for n passes, in order.
func RelayPath(n int) []string {
	branch := "FITEM_5" // 偶数
	if n%2 == 1 {
		branch = "FITEM_6" // 奇数
	}
	return []string{"FITEM_1", "FITEM_2", "FITEM_3", "FITEM_4", branch, "FITEM_7", "FITEM_8", "FITEM_9"}
}

// LoadOptions describe a stream of relay tickets.
type LoadOptions struct {
	Flow    string  // flow api_path; default RelayFlow
	Prefix  string  // the ref of ticket i is Prefix-00000i
	Tickets int     // how many
	Servers []*Node // where to file; default all servers of the cluster
	// Concurrency is the number of requests in flight per server; default 4.
	Concurrency int
	// Rate caps tickets per second over all servers; 0 = as fast as they go.
	Rate float64
}

// Load files tickets in the background. Progress tells how far it got;
// Wait returns the result.
type Load struct {
	c    *Cluster
	o    LoadOptions
	done chan struct{}
	stop chan struct{}
	once sync.Once
	n    atomic.Int64

	mu  sync.Mutex
	res LoadResult
}

// LoadResult is what a load did.
type LoadResult struct {
	Tickets int
	// Refs maps each ref to the ids of the tickets filed for it (one, or
	// more when a request to a dying server committed before the answer
	// was lost and was filed again elsewhere).
	Refs map[string][]int64
	// N maps each ref to its number n.
	N map[string]int
	// PerNode counts successful requests by server name.
	PerNode map[string]int
	// ServerLoss counts requests that got no answer because their server
	// was killed, stopped or paused; each was sent again to another server.
	ServerLoss int
	// LossRefs are the refs of those requests (a ticket may exist twice).
	LossRefs map[string]bool
	// Failures are requests that failed otherwise: an HTTP error, or no
	// answer from a server that was up. A booster problem shows here.
	Failures []string
	// Unfiled are refs that could not be filed at all.
	Unfiled  []string
	Duration time.Duration
}

// IDs returns the ids of every ticket filed, sorted.
func (r LoadResult) IDs() []int64 {
	var out []int64
	for _, ids := range r.Refs {
		out = append(out, ids...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// StartLoad starts filing o.Tickets relay tickets.
func (c *Cluster) StartLoad(ctx context.Context, o LoadOptions) *Load {
	if o.Flow == "" {
		o.Flow = RelayFlow
	}
	if o.Servers == nil {
		o.Servers = c.Servers
	}
	if o.Concurrency == 0 {
		o.Concurrency = 4
	}
	l := &Load{c: c, o: o, done: make(chan struct{}), stop: make(chan struct{}), res: LoadResult{
		Tickets: o.Tickets, Refs: map[string][]int64{}, N: map[string]int{}, PerNode: map[string]int{}, LossRefs: map[string]bool{},
	}}
	next := make(chan int)
	go func() {
		defer close(next)
		start := time.Now()
		for i := range o.Tickets {
			if o.Rate > 0 {
				due := start.Add(time.Duration(float64(i) / o.Rate * float64(time.Second)))
				if d := time.Until(due); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					case <-l.stop:
						return
					}
				}
			}
			select {
			case next <- i:
			case <-ctx.Done():
				return
			case <-l.stop:
				return
			}
		}
	}()
	var wg sync.WaitGroup
	start := time.Now()
	for si := range o.Servers {
		for range o.Concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					l.file(ctx, si, i)
				}
			}()
		}
	}
	go func() {
		wg.Wait()
		l.mu.Lock()
		l.res.Duration = time.Since(start)
		l.mu.Unlock()
		close(l.done)
	}()
	return l
}

// Ref is the ref of ticket i of a load with prefix.
func Ref(prefix string, i int) string { return fmt.Sprintf("%s-%06d", prefix, i) }

func (l *Load) file(ctx context.Context, home, i int) {
	ref := Ref(l.o.Prefix, i)
	fields := map[string]any{
		FieldTitle: "relay " + ref,
		FieldN:     strconv.Itoa(i),
		FieldRef:   ref,
	}
	l.mu.Lock()
	l.res.N[ref] = i
	l.mu.Unlock()
	// Try the home server first, then the others in turn; a request that
	// gets no answer from a server that is down goes to the next one.
	deadline := time.Now().Add(60 * time.Second)
	for try := 0; time.Now().Before(deadline) && ctx.Err() == nil; try++ {
		n := l.o.Servers[(home+try)%len(l.o.Servers)]
		if !n.serving() {
			if try%len(l.o.Servers) == len(l.o.Servers)-1 {
				time.Sleep(20 * time.Millisecond) // none serving: wait a little
			}
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		f, err := l.c.FileTicket(rctx, n, l.o.Flow, fields)
		cancel()
		if err == nil {
			l.mu.Lock()
			l.res.Refs[ref] = append(l.res.Refs[ref], f.ID)
			l.res.PerNode[n.Name]++
			l.mu.Unlock()
			l.n.Add(1)
			return
		}
		if ctx.Err() != nil {
			break
		}
		l.mu.Lock()
		if IsTransport(err) && n.recentlyDown(10*time.Second) {
			l.res.ServerLoss++
			l.res.LossRefs[ref] = true
		} else {
			l.res.Failures = append(l.res.Failures, fmt.Sprintf("%s at %s: %v", ref, time.Now().Format("15:04:05.000"), err))
		}
		l.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	l.mu.Lock()
	l.res.Unfiled = append(l.res.Unfiled, ref)
	l.mu.Unlock()
}

// Stop ends the load early: no new ticket is started, those in flight
// finish. Wait then returns what was filed.
func (l *Load) Stop() { l.once.Do(func() { close(l.stop) }) }

// Progress is the number of tickets filed so far.
func (l *Load) Progress() int { return int(l.n.Load()) }

// WaitProgress blocks until at least n tickets are filed or the load ends.
func (l *Load) WaitProgress(n int) {
	for l.Progress() < n {
		select {
		case <-l.done:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Wait waits for the load to end and returns its result.
func (l *Load) Wait() LoadResult {
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.res
}
