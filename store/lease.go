package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// BoosterLeaseName is the name of the active-booster lease row.
const BoosterLeaseName = "booster"

// Lease is a named lease row (booster_leases) used for the active-booster
// election; it implements cluster/elect.LeaseStore. A term is (holder,
// epoch). The row is never deleted: a new term rewrites it and adds one to
// the epoch, so epochs only grow and can fence writes. Every comparison and
// every new expiry is computed by the database's clock (see leaseNow), so
// boosters with skewed clocks agree on who holds the lease.
type Lease struct {
	db   *DB
	name string
}

// Lease returns the lease row called name (BoosterLeaseName for the
// booster election).
func (db *DB) Lease(name string) *Lease { return &Lease{db: db, name: name} }

// leaseNow is the SQL for the database's current time, with its arguments,
// in a form that compares with the expires_at column as GORM creates it on
// each engine:
//   - PostgreSQL (timestamptz): CURRENT_TIMESTAMP, the transaction start time
//     (fine: each lease statement is its own short transaction).
//   - MySQL/MariaDB (datetime(3), stored as UTC by the DSN's loc=UTC):
//     UTC_TIMESTAMP(6), independent of the session time zone.
//   - SQL Server (datetimeoffset): SYSDATETIMEOFFSET().
//   - SQLite: one process on one machine; the Go clock, in UTC like every
//     time GORM stores there, so the text values compare in order.
func (l *Lease) now() (string, []any) {
	switch l.db.engine {
	case Postgres:
		return "CURRENT_TIMESTAMP", nil
	case MySQL:
		return "UTC_TIMESTAMP(6)", nil
	case SQLServer:
		return "SYSDATETIMEOFFSET()", nil
	}
	return "?", []any{time.Now().UTC()}
}

// nowPlus is the database's current time plus d (d may be negative).
func (l *Lease) nowPlus(d time.Duration) clause.Expr {
	switch l.db.engine {
	case Postgres:
		return gorm.Expr("CURRENT_TIMESTAMP + (? * INTERVAL '1 microsecond')", d.Microseconds())
	case MySQL:
		return gorm.Expr("DATE_ADD(UTC_TIMESTAMP(6), INTERVAL ? MICROSECOND)", d.Microseconds())
	case SQLServer:
		return gorm.Expr("DATEADD(millisecond, ?, SYSDATETIMEOFFSET())", d.Milliseconds())
	}
	return gorm.Expr("?", time.Now().UTC().Add(d))
}

func (l *Lease) nowExpr() clause.Expr {
	sql, args := l.now()
	return gorm.Expr(sql, args...)
}

// Elect takes the lease for holder for ttl if it is absent or expired. It
// returns the new term's epoch and true, or false when someone holds it.
func (l *Lease) Elect(ctx context.Context, holder string, ttl time.Duration) (int64, bool, error) {
	if holder == "" || ttl <= 0 {
		return 0, false, fmt.Errorf("elect lease %q: holder and a positive ttl are required", l.name)
	}
	var epoch int64
	won := false
	// Take over an expired term: one conditional UPDATE, so two boosters
	// racing for it cannot both win (the row lock serialises them and the
	// loser's WHERE no longer matches).
	err := l.db.Tx(ctx, func(ctx context.Context) error {
		c := l.db.conn(ctx)
		nowSQL, nowArgs := l.now()
		res := c.Model(&BoosterLease{}).
			Where("name = ?", l.name).
			Where("expires_at < "+nowSQL, nowArgs...).
			Updates(map[string]any{
				"holder":     holder,
				"epoch":      gorm.Expr("epoch + 1"),
				"elected_at": l.nowExpr(),
				"expires_at": l.nowPlus(ttl),
			})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return nil
		}
		var row BoosterLease
		if err := c.Where("name = ? AND holder = ?", l.name, holder).Take(&row).Error; err != nil {
			return err
		}
		epoch, won = row.Epoch, true
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("elect lease %q: %w", l.name, err)
	}
	if won {
		return epoch, true, nil
	}
	// No expired row: is there a row at all?
	var n int64
	c := l.db.conn(ctx)
	if err := c.Model(&BoosterLease{}).Where("name = ?", l.name).Count(&n).Error; err != nil {
		return 0, false, fmt.Errorf("elect lease %q: %w", l.name, err)
	}
	if n > 0 {
		return 0, false, nil
	}
	// The first term ever. A concurrent first insert loses on the key.
	err = c.Model(&BoosterLease{}).Create(map[string]any{
		"name":       l.name,
		"holder":     holder,
		"epoch":      int64(1),
		"elected_at": l.nowExpr(),
		"expires_at": l.nowPlus(ttl),
	}).Error
	switch {
	case IsDuplicate(err):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("elect lease %q: first term: %w", l.name, err)
	}
	return 1, true, nil
}

// Renew extends the term (holder, epoch) by ttl from now if it still holds
// the lease and has not expired.
func (l *Lease) Renew(ctx context.Context, holder string, epoch int64, ttl time.Duration) (bool, error) {
	c := l.db.conn(ctx)
	nowSQL, nowArgs := l.now()
	res := c.Model(&BoosterLease{}).
		Where("name = ? AND holder = ? AND epoch = ?", l.name, holder, epoch).
		Where("expires_at >= "+nowSQL, nowArgs...).
		Update("expires_at", l.nowPlus(ttl))
	if res.Error != nil {
		return false, fmt.Errorf("renew lease %q epoch %d: %w", l.name, epoch, res.Error)
	}
	if res.RowsAffected == 1 {
		return true, nil
	}
	// MySQL counts changed rows, not matched ones: a renewal within the
	// column's millisecond precision changes nothing. Look again.
	var n int64
	nowSQL, nowArgs = l.now()
	if err := c.Model(&BoosterLease{}).
		Where("name = ? AND holder = ? AND epoch = ?", l.name, holder, epoch).
		Where("expires_at >= "+nowSQL, nowArgs...).
		Count(&n).Error; err != nil {
		return false, fmt.Errorf("renew lease %q epoch %d: %w", l.name, epoch, err)
	}
	return n == 1, nil
}

// Resign ends the term (holder, epoch) now by moving its expiry into the
// past. A later term (another epoch) is left alone.
func (l *Lease) Resign(ctx context.Context, holder string, epoch int64) error {
	err := l.db.conn(ctx).Model(&BoosterLease{}).
		Where("name = ? AND holder = ? AND epoch = ?", l.name, holder, epoch).
		Update("expires_at", l.nowPlus(-time.Second)).Error
	if err != nil {
		return fmt.Errorf("resign lease %q epoch %d: %w", l.name, epoch, err)
	}
	return nil
}

// Current returns the last term and how long it has left by the database's
// clock (negative once expired). holder is "" when there was never a term.
func (l *Lease) Current(ctx context.Context) (string, int64, time.Duration, error) {
	var row struct {
		Holder    string
		Epoch     int64
		ExpiresAt time.Time
		DBNow     time.Time
	}
	c := l.db.conn(ctx).Model(&BoosterLease{}).Where("name = ?", l.name)
	if l.db.engine.IsSQLite() {
		c = c.Select("holder, epoch, expires_at")
		row.DBNow = time.Now()
	} else {
		nowSQL, _ := l.now()
		c = c.Select("holder, epoch, expires_at, " + nowSQL + " AS db_now")
	}
	err := c.Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", 0, 0, nil
	}
	if err != nil {
		return "", 0, 0, fmt.Errorf("read lease %q: %w", l.name, err)
	}
	return row.Holder, row.Epoch, row.ExpiresAt.Sub(row.DBNow), nil
}
