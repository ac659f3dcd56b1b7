package flow_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

func TestEngineStartStop(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := flow.New(db, flow.Options{Node: "test", Poll: true, Workers: 4, LeaseTTL: time.Minute,
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		importFile(t, e, "testdata/mission.json")
		if err := e.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.Start(ctx); err == nil {
			t.Fatal("a second Start succeeded")
		}
		const n = 50
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.FileTicket(ctx, admin, "mission", map[string]any{"FORMITM_1": fmt.Sprint("t", i), "FORMITM_6": "network"})
				if err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			tasks, err := e.Tasks(ctx, admin, true)
			if err != nil {
				t.Fatal(err)
			}
			if len(tasks) == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d tickets reached their first task; jobs %v", len(tasks), n, jobsLeft(t, db))
			}
			time.Sleep(20 * time.Millisecond)
		}
		e.Stop()
		e.Stop() // harmless
		if e.Submit(1) {
			t.Fatal("a stopped engine accepted a job")
		}
		if c := jobsLeft(t, db); c[store.JobLeased] != 0 || c[store.JobReady] != 0 || c[store.JobFailed] != 0 {
			t.Fatalf("jobs after Stop: %v", c)
		}
	})
}

func TestStopHandsBackLeasedJobs(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := flow.New(db, flow.Options{Node: "test", Poll: false})
		importFile(t, e, "testdata/mission.json")
		if _, err := e.FileTicket(ctx, admin, "mission", map[string]any{"FORMITM_1": "x", "FORMITM_6": "network"}); err != nil {
			t.Fatal(err)
		}
		if err := e.Start(ctx); err != nil {
			t.Fatal(err)
		}
		// Claimed by this engine but not run (as if it were mid-step when
		// told to stop): Stop releases it for another node.
		jobs, err := db.ClaimDue(ctx, e.Owner(), 10, time.Hour)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim: %v %v", jobs, err)
		}
		e.Stop()
		if c := jobsLeft(t, db); c[store.JobLeased] != 0 || c[store.JobReady] != 1 {
			t.Fatalf("jobs after Stop: %v", c)
		}
		other := newEngine(t, db)
		if n := drain(t, other); n != 1 {
			t.Fatalf("another engine ran %d jobs, want the handed-back one", n)
		}
	})
}

// FuzzTicketFields files random field maps in the mission flow: each must
// either be filed or be refused with an *flow.InputError, and a refused
// filing stores nothing.
func FuzzTicketFields(f *testing.F) {
	for _, s := range []string{
		`{"FORMITM_1": "printer", "FORMITM_6": "hardware"}`,
		`{"FORMITM_1": "x", "FORMITM_6": "software", "FORMITM_3": "red", "FORMITM_7": "2.5"}`,
		`{"FORMITM_1": "x", "FORMITM_6": "hardware", "FORMITM_5": {"group": "2", "user": "admin"}}`,
		`{"FORMITM_1": "x", "FORMITM_6": "hardware", "FORMITM_5": "{\"group\":\"ops\",\"user\":\"1\"}"}`,
		`{"FORMITM_1": "", "FORMITM_6": "hardware"}`,
		`{"FORMITM_1": "x", "FORMITM_6": "nothing"}`,
		`{"FORMITM_1": "x", "FORMITM_6": "hardware", "FORMITM_4": "work_done"}`,
		`{"FORMITM_1": "x", "FORMITM_6": "hardware", "FORMITM_7": "many"}`,
		`{"FORMITM_1": "x", "FORMITM_6": "hardware", "FORMITM_3": "purple"}`,
		`{"FORMITM_1": ["a", "b"], "FORMITM_6": ["hardware"]}`,
		`{"FORMITM_1": {"a": 1}, "FORMITM_6": null}`,
		`{"FORMITM_1": 12, "FORMITM_6": "hardware", "FORMITM_7": 3}`,
		`{"FORMITM_1": true, "FORMITM_6": "hardware", "FORMITM_5": [1, 2]}`,
		`{"FORMITM_1": "nul\u0000byte", "FORMITM_6": "hardware"}`,
		`{"FORMITM_1": "x", "FORMITM_6": "hardware", "FORMITM_5": {"group": "g", "user": "a\u0000b"}}`,
		"{\"FORMITM_1\": \"bad \xff utf8\", \"FORMITM_6\": \"hardware\"}",
		`{"FORMITM_99": "x", "FORMBOX_1": "y", "": ""}`,
		`{"FORMITM_1": "x", "FORMITM_6": "hardware", "FORMITM_5": {"group": 5, "user": {"x": "y"}}}`,
		`not json at all`,
		`{}`,
	} {
		f.Add(s)
	}
	ctx := context.Background()
	type target struct {
		db *store.DB
		e  *flow.Engine
	}
	var targets []target
	for _, eng := range storetest.Engines() {
		db := storetest.Open(f, eng)
		e := flow.New(db, flow.Options{Node: "fuzz", Hooks: flow.Hooks{JobsCommitted: func([]flow.JobRef) {}},
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
		data, err := os.ReadFile("testdata/mission.json")
		if err != nil {
			f.Fatal(err)
		}
		if _, err := e.ImportApp(ctx, admin, data); err != nil {
			f.Fatal(err)
		}
		targets = append(targets, target{db, e})
	}
	f.Fuzz(func(t *testing.T, in string) {
		var fields map[string]any
		if err := json.Unmarshal([]byte(in), &fields); err != nil {
			// Not a JSON object: use the text as the title, and as the
			// value of a field named by it.
			fields = map[string]any{"FORMITM_1": in, "FORMITM_6": "hardware", in: in}
		}
		for _, tg := range targets {
			count := func() (int64, int64) {
				_, n, err := tg.db.Tickets(ctx, store.TicketQuery{Limit: 1})
				if err != nil {
					t.Fatal(err)
				}
				c, err := tg.db.JobCounts(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return n, c[store.JobReady] + c[store.JobLeased] + c[store.JobFailed]
			}
			tickets, jobs := count()
			filed, err := tg.e.FileTicket(ctx, admin, "mission", fields)
			t2, j2 := count()
			if err == nil {
				if filed == nil || t2 != tickets+1 || j2 != jobs+1 {
					t.Fatalf("%s: filed %+v, tickets %d→%d, jobs %d→%d", tg.db.Engine(), filed, tickets, t2, jobs, j2)
				}
				continue
			}
			var ie *flow.InputError
			if !errors.As(err, &ie) || !errors.Is(err, flow.ErrInvalid) {
				t.Fatalf("%s: fields %v: error %v (%T), want an *flow.InputError", tg.db.Engine(), fields, err, err)
			}
			if t2 != tickets || j2 != jobs {
				t.Fatalf("%s: refused filing stored something: tickets %d→%d, jobs %d→%d", tg.db.Engine(), tickets, t2, jobs, j2)
			}
		}
	})
}
