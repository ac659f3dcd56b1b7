package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

func TestMigrateIsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		v, err := db.SchemaVersion(ctx)
		if err != nil || v != store.LatestSchema() {
			t.Fatalf("schema version = %d, %v; want %d", v, err, store.LatestSchema())
		}
	})
}

func TestJobClaimIsExclusive(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n = 60
		for i := 0; i < n; i++ {
			if err := db.EnqueueJobs(ctx, &store.Job{Kind: "step", TicketID: int64(i + 1)}); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		seen := map[int64]string{}
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			owner := string(rune('a' + w))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					jobs, err := db.ClaimDue(ctx, owner, 5, time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if len(jobs) == 0 {
						return
					}
					for _, j := range jobs {
						mu.Lock()
						if prev, dup := seen[j.ID]; dup {
							t.Errorf("job %d claimed by %s and %s", j.ID, prev, owner)
						}
						seen[j.ID] = owner
						mu.Unlock()
						if err := db.Tx(ctx, func(ctx context.Context) error { return db.FinishJob(ctx, j) }); err != nil {
							t.Error(err)
						}
					}
				}
			}()
		}
		wg.Wait()
		if len(seen) != n {
			t.Fatalf("claimed %d jobs, want %d", len(seen), n)
		}
		counts, err := db.JobCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if counts[store.JobReady]+counts[store.JobLeased] != 0 {
			t.Fatalf("jobs left: %v", counts)
		}
	})
}

func TestExpiredLeaseIsTakenOverAndOldOwnerIsFenced(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.EnqueueJobs(ctx, &store.Job{Kind: "step", TicketID: 1}); err != nil {
			t.Fatal(err)
		}
		jobs, err := db.ClaimDue(ctx, "dead", 1, -time.Second) // lease already expired
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim: %v %v", jobs, err)
		}
		old := jobs[0]
		taken, err := db.ClaimJob(ctx, old.ID, "alive", time.Minute)
		if err != nil || taken == nil {
			t.Fatalf("take over: %v %v", taken, err)
		}
		if taken.LeaseToken == old.LeaseToken || taken.Attempts != 2 {
			t.Fatalf("token %d→%d attempts %d", old.LeaseToken, taken.LeaseToken, taken.Attempts)
		}
		err = db.Tx(ctx, func(ctx context.Context) error { return db.FinishJob(ctx, old) })
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("old owner finishing: %v, want ErrConflict", err)
		}
		if again, _ := db.ClaimJob(ctx, old.ID, "third", time.Minute); again != nil {
			t.Fatal("a live lease was claimed again")
		}
		if n, err := db.ReleaseOwner(ctx, "alive"); err != nil || n != 1 {
			t.Fatalf("release: %d %v", n, err)
		}
		if j, _ := db.ClaimJob(ctx, old.ID, "third", time.Minute); j == nil {
			t.Fatal("released job not claimable")
		}
	})
}

func TestTimersWaitUntilDue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.EnqueueJobs(ctx, &store.Job{Kind: "timer", TicketID: 1, RunAt: db.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		jobs, err := db.ClaimDue(ctx, "me", 10, time.Minute)
		if err != nil || len(jobs) != 0 {
			t.Fatalf("claimed a job before it was due: %v %v", jobs, err)
		}
		next, err := db.NextRunAt(ctx)
		if err != nil || next.Before(db.Now().Add(59*time.Minute)) {
			t.Fatalf("next run at %v %v", next, err)
		}
	})
}

// A batch insert must hand every row its own id (SQLite takes them from
// LastInsertId, counting back from the last row).
func TestBatchInsertSetsEachID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		jobs := []*store.Job{{Kind: "step", TicketID: 11}, {Kind: "step", TicketID: 12}, {Kind: "step", TicketID: 13}}
		if err := db.EnqueueJobs(ctx, jobs...); err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			got, err := db.ClaimJob(ctx, j.ID, "me", time.Minute)
			if err != nil || got == nil || got.TicketID != j.TicketID {
				t.Fatalf("job id %d: got %+v, %v; want ticket %d", j.ID, got, err, j.TicketID)
			}
		}
	})
}
