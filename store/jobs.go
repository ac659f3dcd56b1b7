package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// EnqueueJobs inserts ready jobs. Call it inside the transaction that makes
// the change the jobs follow from (the outbox). A zero RunAt means now.
func (db *DB) EnqueueJobs(ctx context.Context, jobs ...*Job) error {
	if len(jobs) == 0 {
		return nil
	}
	now := db.Now()
	for _, j := range jobs {
		j.State = JobReady
		if j.RunAt.IsZero() {
			j.RunAt = now
		}
		j.RunAt = j.RunAt.UTC()
	}
	if err := db.conn(ctx).Create(jobs).Error; err != nil {
		return fmt.Errorf("enqueue %d jobs: %w", len(jobs), err)
	}
	return nil
}

// claimable is the condition under which a job may be taken: ready and due,
// or leased by someone whose lease ran out.
const claimable = "((state = ? AND run_at <= ?) OR (state = ? AND lease_expires < ?))"

// ClaimJob leases one job for owner. It returns nil and no error when the job
// is gone, not due, or leased by someone else: losing that race is normal.
func (db *DB) ClaimJob(ctx context.Context, id int64, owner string, ttl time.Duration) (*Job, error) {
	now := db.Now()
	res := db.conn(ctx).Model(&Job{}).
		Where("id = ? AND "+claimable, id, JobReady, now, JobLeased, now).
		Updates(leaseUpdate(owner, now, ttl))
	if res.Error != nil {
		return nil, fmt.Errorf("claim job %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, nil
	}
	var j Job
	if err := db.conn(ctx).Where("id = ? AND lease_owner = ?", id, owner).Take(&j).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("read claimed job %d", id))
	}
	return &j, nil
}

func leaseUpdate(owner string, now time.Time, ttl time.Duration) map[string]any {
	return map[string]any{
		"state":         JobLeased,
		"lease_owner":   owner,
		"lease_expires": now.Add(ttl),
		"lease_token":   gorm.Expr("lease_token + 1"),
		"attempts":      gorm.Expr("attempts + 1"),
		"updated_at":    now,
	}
}

// ClaimDue leases up to limit due jobs for owner, oldest first. Servers use it
// when no booster dispatches work to them, and to pick up timers.
func (db *DB) ClaimDue(ctx context.Context, owner string, limit int, ttl time.Duration) ([]*Job, error) {
	now := db.Now()
	if db.engine.IsPostgres() {
		// One round trip; SKIP LOCKED keeps concurrent claimers off each
		// other's rows instead of queueing behind them.
		var jobs []*Job
		err := db.conn(ctx).Model(&jobs).Clauses(clause.Returning{}).
			Where("id IN (?)", db.conn(ctx).Model(&Job{}).Select("id").
				Where(claimable, JobReady, now, JobLeased, now).
				Order("run_at").Limit(limit).
				Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})).
			Updates(leaseUpdate(owner, now, ttl)).Error
		if err != nil {
			return nil, fmt.Errorf("claim due jobs: %w", err)
		}
		return jobs, nil
	}
	ids, err := db.DueJobIDs(ctx, limit*2)
	if err != nil {
		return nil, err
	}
	var out []*Job
	for _, id := range ids {
		if len(out) == limit {
			break
		}
		j, err := db.ClaimJob(ctx, id, owner, ttl)
		if err != nil {
			return out, err
		}
		if j != nil {
			out = append(out, j)
		}
	}
	return out, nil
}

// DueJobIDs lists jobs that can be claimed now, oldest first.
func (db *DB) DueJobIDs(ctx context.Context, limit int) ([]int64, error) {
	now := db.Now()
	var ids []int64
	err := db.conn(ctx).Model(&Job{}).Where(claimable, JobReady, now, JobLeased, now).
		Order("run_at").Limit(limit).Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("list due jobs: %w", err)
	}
	return ids, nil
}

// NextRunAt returns when the earliest ready job falls due (zero if none).
func (db *DB) NextRunAt(ctx context.Context) (time.Time, error) {
	var j Job
	err := db.conn(ctx).Where("state = ?", JobReady).Order("run_at").Limit(1).Select("run_at").Find(&j).Error
	if err != nil {
		return time.Time{}, fmt.Errorf("next job time: %w", err)
	}
	return j.RunAt, nil
}

// FinishJob deletes a job its owner has completed. It must run in the
// transaction that commits the job's effects: if the lease was lost (someone
// else holds the job now), it returns ErrConflict and the caller rolls back,
// so a step never takes effect twice.
func (db *DB) FinishJob(ctx context.Context, j *Job) error {
	res := db.conn(ctx).Where("id = ? AND lease_owner = ? AND lease_token = ? AND state = ?",
		j.ID, j.LeaseOwner, j.LeaseToken, JobLeased).Delete(&Job{})
	if res.Error != nil {
		return fmt.Errorf("finish job %d: %w", j.ID, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("finish job %d: lease lost: %w", j.ID, ErrConflict)
	}
	return nil
}

// RetryJob hands a job back to run again after delay, recording why it
// failed. Nothing happens if the lease was lost meanwhile.
func (db *DB) RetryJob(ctx context.Context, j *Job, delay time.Duration, reason string) error {
	return db.releaseJob(ctx, j, map[string]any{
		"state": JobReady, "run_at": db.Now().Add(delay), "lease_owner": "", "lease_expires": nil,
		"last_error": truncate(reason, 2000), "updated_at": db.Now(),
	})
}

// FailJob parks a job that cannot succeed (state failed) for an operator.
func (db *DB) FailJob(ctx context.Context, j *Job, reason string) error {
	return db.releaseJob(ctx, j, map[string]any{
		"state": JobFailed, "lease_owner": "", "lease_expires": nil,
		"last_error": truncate(reason, 2000), "updated_at": db.Now(),
	})
}

func (db *DB) releaseJob(ctx context.Context, j *Job, set map[string]any) error {
	err := db.conn(ctx).Model(&Job{}).
		Where("id = ? AND lease_owner = ? AND lease_token = ?", j.ID, j.LeaseOwner, j.LeaseToken).
		Updates(set).Error
	if err != nil {
		return fmt.Errorf("release job %d: %w", j.ID, err)
	}
	return nil
}

// ReleaseOwner hands back every job leased by owner so another node can run
// it at once. A server calls it on shutdown for its own jobs; the active
// booster calls it for a node gossip reports dead.
func (db *DB) ReleaseOwner(ctx context.Context, owner string) (int64, error) {
	res := db.conn(ctx).Model(&Job{}).Where("state = ? AND lease_owner = ?", JobLeased, owner).
		Updates(map[string]any{"state": JobReady, "lease_owner": "", "lease_expires": nil, "updated_at": db.Now()})
	if res.Error != nil {
		return 0, fmt.Errorf("release jobs of %s: %w", owner, res.Error)
	}
	return res.RowsAffected, nil
}

// JobCounts counts jobs by state; leased jobs whose lease ran out count as
// "expired".
func (db *DB) JobCounts(ctx context.Context) (map[string]int64, error) {
	type row struct {
		State string
		N     int64
	}
	var rows []row
	if err := db.conn(ctx).Model(&Job{}).Select("state, COUNT(*) AS n").Group("state").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	out := map[string]int64{JobReady: 0, JobLeased: 0, JobFailed: 0}
	for _, r := range rows {
		out[r.State] = r.N
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
