package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

func TestLeaseTerms(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := db.Lease(store.BoosterLeaseName)
		const ttl = 5 * time.Second

		if h, e, _, err := l.Current(ctx); err != nil || h != "" || e != 0 {
			t.Fatalf("Current on an empty table = %q, %d, %v", h, e, err)
		}
		epoch, ok, err := l.Elect(ctx, "A", ttl)
		if err != nil || !ok || epoch != 1 {
			t.Fatalf("first Elect = %d, %v, %v; want 1, true", epoch, ok, err)
		}
		if _, ok, err := l.Elect(ctx, "B", ttl); err != nil || ok {
			t.Fatalf("Elect while held = %v, %v; want false", ok, err)
		}
		if _, ok, err := l.Elect(ctx, "A", ttl); err != nil || ok {
			t.Fatalf("holder re-electing its live term = %v, %v; want false", ok, err)
		}
		h, e, left, err := l.Current(ctx)
		if err != nil || h != "A" || e != 1 || left <= 3*time.Second || left > ttl+time.Second {
			t.Fatalf("Current = %q, %d, %v, %v; want A, 1, about %v left", h, e, left, err, ttl)
		}

		for _, tc := range []struct {
			holder string
			epoch  int64
			want   bool
		}{{"A", 1, true}, {"A", 1, true}, {"B", 1, false}, {"A", 2, false}} {
			ok, err := l.Renew(ctx, tc.holder, tc.epoch, ttl)
			if err != nil || ok != tc.want {
				t.Fatalf("Renew(%s, %d) = %v, %v; want %v", tc.holder, tc.epoch, ok, err, tc.want)
			}
		}

		// Resign is scoped to the term.
		if err := l.Resign(ctx, "B", 1); err != nil {
			t.Fatal(err)
		}
		if err := l.Resign(ctx, "A", 2); err != nil {
			t.Fatal(err)
		}
		if _, _, left, _ := l.Current(ctx); left <= 0 {
			t.Fatalf("someone else's resign ended A's term (left %v)", left)
		}
		if err := l.Resign(ctx, "A", 1); err != nil {
			t.Fatal(err)
		}
		if _, _, left, _ := l.Current(ctx); left >= 0 {
			t.Fatalf("after resign the term has %v left; want expired", left)
		}
		if ok, _ := l.Renew(ctx, "A", 1, ttl); ok {
			t.Fatal("a resigned term was renewed")
		}

		// The next term takes the next epoch; the old holder is fenced.
		epoch, ok, err = l.Elect(ctx, "B", ttl)
		if err != nil || !ok || epoch != 2 {
			t.Fatalf("Elect after resign = %d, %v, %v; want 2, true", epoch, ok, err)
		}
		if ok, _ := l.Renew(ctx, "A", 1, ttl); ok {
			t.Fatal("the old term renewed over the new one")
		}
		if err := l.Resign(ctx, "A", 1); err != nil {
			t.Fatal(err)
		}
		if h, e, left, _ := l.Current(ctx); h != "B" || e != 2 || left <= 0 {
			t.Fatalf("old term's resign touched the new term: %q, %d, %v", h, e, left)
		}
	})
}

func TestLeaseExpiresByDatabaseClock(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := db.Lease("expiry")
		epoch, ok, err := l.Elect(ctx, "A", 300*time.Millisecond)
		if err != nil || !ok {
			t.Fatalf("Elect = %v, %v", ok, err)
		}
		if _, ok, _ := l.Elect(ctx, "B", time.Second); ok {
			t.Fatal("B won a live term")
		}
		time.Sleep(500 * time.Millisecond)
		if ok, err := l.Renew(ctx, "A", epoch, time.Second); err != nil || ok {
			t.Fatalf("Renew of an expired term = %v, %v; want false", ok, err)
		}
		e2, ok, err := l.Elect(ctx, "B", time.Second)
		if err != nil || !ok || e2 != epoch+1 {
			t.Fatalf("Elect after expiry = %d, %v, %v; want %d", e2, ok, err, epoch+1)
		}
	})
}

func TestLeaseElectionRaceHasOneWinner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := db.Lease("race")
		race := func() int {
			var mu sync.Mutex
			winners := 0
			var wg sync.WaitGroup
			for i := 0; i < 8; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					_, ok, err := l.Elect(ctx, string(rune('a'+i)), 2*time.Second)
					if err != nil {
						t.Errorf("Elect: %v", err)
					}
					if ok {
						mu.Lock()
						winners++
						mu.Unlock()
					}
				}(i)
			}
			wg.Wait()
			return winners
		}
		if n := race(); n != 1 { // first term: INSERT race
			t.Fatalf("%d winners of the first term, want 1", n)
		}
		h, e, _, err := l.Current(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Resign(ctx, h, e); err != nil {
			t.Fatal(err)
		}
		if n := race(); n != 1 { // takeover: UPDATE race
			t.Fatalf("%d winners of the takeover, want 1", n)
		}
	})
}
