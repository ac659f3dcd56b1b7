package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Fence names a booster's term of a lease: a write made under a fence takes
// effect only while that booster still holds the lease at that epoch and
// the lease has not expired by the database's clock. A booster that was
// paused or cut off, and was replaced meanwhile, changes nothing.
type Fence struct {
	Lease  string // lease name, BoosterLeaseName
	Holder string
	Epoch  int64
}

// Fence returns the fence of the term (holder, epoch) of this lease.
func (l *Lease) Fence(holder string, epoch int64) Fence {
	return Fence{Lease: l.name, Holder: holder, Epoch: epoch}
}

// fenceCond is the SQL condition "f still holds its lease now", with its
// arguments, for the WHERE clause of a fenced write. It is evaluated by the
// database inside the write itself, so no one can take the lease over
// between the check and the change.
func (db *DB) fenceCond(f Fence) (string, []any) {
	l := db.Lease(f.Lease)
	nowSQL, nowArgs := l.now()
	args := append([]any{f.Lease, f.Holder, f.Epoch}, nowArgs...)
	return "EXISTS (SELECT 1 FROM booster_leases WHERE name = ? AND holder = ? AND epoch = ? AND expires_at >= " + nowSQL + ")", args
}

// ownerLike is the LIKE pattern (escape character '!') that matches every
// lease owner of node's engines: the engine names its leases "node/suffix".
func ownerLike(node string) string {
	r := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")
	return r.Replace(node) + "/%"
}

func (db *DB) releaseNode(ctx context.Context, node string, fence *Fence) (int64, error) {
	if node == "" {
		return 0, fmt.Errorf("release jobs of a node: node name is required")
	}
	q := db.conn(ctx).Model(&Job{}).
		Where("state = ?", JobLeased).
		Where("(lease_owner = ? OR lease_owner LIKE ? ESCAPE '!')", node, ownerLike(node))
	if fence != nil {
		cond, args := db.fenceCond(*fence)
		q = q.Where(cond, args...)
	}
	// Every matched row changes (its state goes from leased to ready), so
	// RowsAffected counts the released jobs on every engine, MySQL's
	// "changed rows" included.
	res := q.Updates(map[string]any{"state": JobReady, "lease_owner": "", "lease_expires": nil, "updated_at": db.Now()})
	if res.Error != nil {
		return 0, fmt.Errorf("release jobs of node %s: %w", node, res.Error)
	}
	return res.RowsAffected, nil
}

// ReleaseNodeJobs hands back every job leased by any engine of node, so
// that another node can run it at once. A server calls it for itself when
// it starts, before its engine claims anything: having bound its cluster
// address, it knows no other live process has its node name, so whatever
// that name still holds was left by a previous process that died.
func (db *DB) ReleaseNodeJobs(ctx context.Context, node string) (int64, error) {
	return db.releaseNode(ctx, node, nil)
}

// ReleaseNodeJobsFenced is ReleaseNodeJobs for the active booster, when
// gossip reports node dead: one conditional UPDATE that changes nothing
// unless fence still holds its lease. It returns the number of jobs
// released; 0 means none were leased by node or the fence no longer holds
// (either way nothing changed).
func (db *DB) ReleaseNodeJobsFenced(ctx context.Context, f Fence, node string) (int64, error) {
	return db.releaseNode(ctx, node, &f)
}

// NextDueAt returns the earliest time after now at which a job becomes
// claimable: a ready job's run_at (a timer) or a leased job's lease expiry.
// Zero when there is none. The booster sets its sweep timer with it.
func (db *DB) NextDueAt(ctx context.Context) (time.Time, error) {
	now := db.Now()
	var next time.Time
	var ready Job
	err := db.conn(ctx).Where("state = ? AND run_at > ?", JobReady, now).
		Order("run_at").Limit(1).Select("run_at").Find(&ready).Error
	if err != nil {
		return time.Time{}, fmt.Errorf("next job time: %w", err)
	}
	if !ready.RunAt.IsZero() {
		next = ready.RunAt
	}
	var leased Job
	err = db.conn(ctx).Where("state = ? AND lease_expires > ?", JobLeased, now).
		Order("lease_expires").Limit(1).Select("lease_expires").Find(&leased).Error
	if err != nil {
		return time.Time{}, fmt.Errorf("next lease expiry: %w", err)
	}
	if leased.LeaseExpires != nil && (next.IsZero() || leased.LeaseExpires.Before(next)) {
		next = *leased.LeaseExpires
	}
	return next.UTC(), nil
}
