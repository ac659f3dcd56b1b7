package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

// leasedBy enqueues one job per owner and claims it for that owner.
func leasedBy(t *testing.T, db *store.DB, owners ...string) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	ids := map[string]int64{}
	for i, o := range owners {
		j := &store.Job{Kind: "step", TicketID: int64(i + 1)}
		if err := db.EnqueueJobs(ctx, j); err != nil {
			t.Fatal(err)
		}
		got, err := db.ClaimJob(ctx, j.ID, o, time.Hour)
		if err != nil || got == nil {
			t.Fatalf("claim job %d for %s: %v, %v", j.ID, o, got, err)
		}
		ids[o] = j.ID
	}
	return ids
}

// stillLeased lists the owners whose job is still leased to them.
func stillLeased(t *testing.T, db *store.DB, ids map[string]int64) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for o, id := range ids {
		// A job that is leased to someone cannot be claimed by "probe".
		j, err := db.ClaimJob(context.Background(), id, "probe", time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if j == nil {
			out[o] = true
		} else {
			// Put it back as it was, leased to its owner.
			if err := db.RetryJob(context.Background(), j, 0, ""); err != nil {
				t.Fatal(err)
			}
			if j2, err := db.ClaimJob(context.Background(), id, o, time.Hour); err != nil || j2 == nil {
				t.Fatalf("re-claim %d for %s: %v %v", id, o, j2, err)
			}
		}
	}
	return out
}

func TestReleaseNodeJobsFenced(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := db.Lease(store.BoosterLeaseName)
		ids := leasedBy(t, db, "n1@10.0.0.1:5169/aa", "n1@10.0.0.1:5169/bb", "n1@10.0.0.1:51690/cc", "x_y/dd", "xzy/ee")

		epochA, ok, err := l.Elect(ctx, "A", 5*time.Second)
		if err != nil || !ok {
			t.Fatalf("elect A: %v %v", ok, err)
		}
		fenceA := l.Fence("A", epochA)

		// A stranger's fence (wrong holder, wrong epoch) changes nothing.
		for _, f := range []store.Fence{l.Fence("B", epochA), l.Fence("A", epochA+1)} {
			n, err := db.ReleaseNodeJobsFenced(ctx, f, "n1@10.0.0.1:5169")
			if err != nil || n != 0 {
				t.Fatalf("release under foreign fence %+v = %d, %v; want 0", f, n, err)
			}
		}
		if got := stillLeased(t, db, ids); len(got) != 5 {
			t.Fatalf("a foreign fence released jobs: still leased %v", got)
		}

		// The holder releases exactly the node's jobs: not a node whose
		// name only starts the same, and LIKE wildcards in names are literal.
		n, err := db.ReleaseNodeJobsFenced(ctx, fenceA, "n1@10.0.0.1:5169")
		if err != nil || n != 2 {
			t.Fatalf("release n1 = %d, %v; want 2", n, err)
		}
		n, err = db.ReleaseNodeJobsFenced(ctx, fenceA, "x_y")
		if err != nil || n != 1 {
			t.Fatalf("release x_y = %d, %v; want 1 (xzy must not match)", n, err)
		}
		got := stillLeased(t, db, ids)
		if got["n1@10.0.0.1:5169/aa"] || got["n1@10.0.0.1:5169/bb"] || got["x_y/dd"] || !got["n1@10.0.0.1:51690/cc"] || !got["xzy/ee"] {
			t.Fatalf("after release, still leased: %v", got)
		}

		// A is deposed: its term is resigned and B holds the lease. A's
		// fenced write now changes nothing.
		if err := l.Resign(ctx, "A", epochA); err != nil {
			t.Fatal(err)
		}
		epochB, ok, err := l.Elect(ctx, "B", 5*time.Second)
		if err != nil || !ok || epochB != epochA+1 {
			t.Fatalf("elect B = %d, %v, %v", epochB, ok, err)
		}
		ids2 := leasedBy(t, db, "dead/1")
		if n, err := db.ReleaseNodeJobsFenced(ctx, fenceA, "dead"); err != nil || n != 0 {
			t.Fatalf("deposed booster's release = %d, %v; want 0", n, err)
		}
		if !stillLeased(t, db, ids2)["dead/1"] {
			t.Fatal("a deposed booster's fenced write took effect")
		}
		if n, err := db.ReleaseNodeJobsFenced(ctx, l.Fence("B", epochB), "dead"); err != nil || n != 1 {
			t.Fatalf("active B's release = %d, %v; want 1", n, err)
		}

		// A term that ran out by the database clock no longer fences, even
		// when no one has taken it over yet.
		if err := l.Resign(ctx, "B", epochB); err != nil {
			t.Fatal(err)
		}
		epochC, ok, err := l.Elect(ctx, "C", 300*time.Millisecond)
		if err != nil || !ok {
			t.Fatalf("elect C: %v %v", ok, err)
		}
		ids3 := leasedBy(t, db, "gone/1")
		time.Sleep(700 * time.Millisecond)
		if n, err := db.ReleaseNodeJobsFenced(ctx, l.Fence("C", epochC), "gone"); err != nil || n != 0 {
			t.Fatalf("release under an expired term = %d, %v; want 0", n, err)
		}
		if !stillLeased(t, db, ids3)["gone/1"] {
			t.Fatal("an expired term's fenced write took effect")
		}

		// Unfenced (a node cleaning up after its previous process).
		if n, err := db.ReleaseNodeJobs(ctx, "gone"); err != nil || n != 1 {
			t.Fatalf("unfenced release = %d, %v; want 1", n, err)
		}
		if _, err := db.ReleaseNodeJobs(ctx, ""); err == nil {
			t.Fatal("release with an empty node name must fail")
		}
	})
}

func TestNextDueAt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if next, err := db.NextDueAt(ctx); err != nil || !next.IsZero() {
			t.Fatalf("NextDueAt on no jobs = %v, %v; want zero", next, err)
		}
		now := db.Now()
		timer := now.Add(time.Hour)
		if err := db.EnqueueJobs(ctx, &store.Job{Kind: "step", TicketID: 1, RunAt: timer}, &store.Job{Kind: "step", TicketID: 2}); err != nil {
			t.Fatal(err)
		}
		next, err := db.NextDueAt(ctx)
		if err != nil || next.Sub(timer).Abs() > 5*time.Millisecond {
			t.Fatalf("NextDueAt = %v, %v; want the timer at %v (a due job is not in the future)", next, err, timer)
		}
		// A lease that runs out before the timer comes first.
		ids, err := db.DueJobIDs(ctx, 10)
		if err != nil || len(ids) != 1 {
			t.Fatalf("due = %v, %v", ids, err)
		}
		if j, err := db.ClaimJob(ctx, ids[0], "n/1", 10*time.Minute); err != nil || j == nil {
			t.Fatalf("claim: %v %v", j, err)
		}
		next, err = db.NextDueAt(ctx)
		if want := now.Add(10 * time.Minute); err != nil || next.Sub(want).Abs() > 2*time.Second {
			t.Fatalf("NextDueAt = %v, %v; want the lease expiry near %v", next, err, want)
		}
	})
}
