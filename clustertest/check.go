package clustertest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql" // database/sql driver for the checks
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for the checks

	"github.com/omflow/omflow/store"
)

// Store opens the cluster's database through the store package (once; it
// is closed at cleanup).
func (c *Cluster) Store() *store.DB {
	c.t.Helper()
	if c.db == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		o := c.opts.DB
		o.MaxOpenConns = 4
		db, err := store.Open(ctx, o)
		if err != nil {
			c.t.Fatalf("clustertest: open the cluster database: %v", err)
		}
		c.db = db
		c.root.Cleanup(func() { _ = db.Close() })
	}
	return c.db
}

// SQL opens the cluster's database with database/sql for checks the store
// package has no query for (jobs by lease owner).
func (c *Cluster) SQL() *sql.DB {
	c.t.Helper()
	if c.sqldb == nil {
		o := c.opts.DB
		var driver, dsn string
		switch o.Engine {
		case store.Postgres:
			driver = "pgx"
			dsn = fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", o.Host, o.Port, o.User, o.Name)
			if o.Password != "" {
				dsn += " password=" + o.Password
			}
			for _, kv := range strings.Split(o.Params, "&") {
				if kv != "" {
					dsn += " " + kv
				}
			}
		case store.MySQL:
			driver = "mysql"
			dsn = fmt.Sprintf("%s:%s@tcp(%s:%d)/%s?parseTime=true", o.User, o.Password, o.Host, o.Port, o.Name)
		default:
			c.t.Fatalf("clustertest: no SQL checks for engine %s", o.Engine)
		}
		db, err := sql.Open(driver, dsn)
		if err != nil {
			c.t.Fatalf("clustertest: open %s: %v", o.Engine, err)
		}
		db.SetMaxOpenConns(2)
		c.sqldb = db
		c.root.Cleanup(func() { _ = db.Close() })
	}
	return c.sqldb
}

// q rewrites ? placeholders for PostgreSQL.
func (c *Cluster) q(query string) string {
	if c.opts.DB.Engine != store.Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// count runs a COUNT query.
func (c *Cluster) count(ctx context.Context, query string, args ...any) (int, error) {
	var n int
	err := c.SQL().QueryRowContext(ctx, c.q(query), args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", query, err)
	}
	return n, nil
}

// JobsLeasedBy counts jobs leased by any process of node name. Lease
// owners are "NODE_NAME/random" on a standalone server and
// "NODE_NAME@LOCAL_IP:LOCAL_PORT/random" in a cluster.
func (c *Cluster) JobsLeasedBy(ctx context.Context, name string) (int, error) {
	return c.count(ctx, "SELECT COUNT(*) FROM jobs WHERE state = ? AND (lease_owner LIKE ? OR lease_owner LIKE ?)",
		store.JobLeased, name+"/%", name+"@%")
}

// JobsLeasedByOwner counts jobs leased by one exact owner.
func (c *Cluster) JobsLeasedByOwner(ctx context.Context, owner string) (int, error) {
	return c.count(ctx, "SELECT COUNT(*) FROM jobs WHERE state = ? AND lease_owner = ?", store.JobLeased, owner)
}

// LeaseOwners lists the owners that hold leased jobs now.
func (c *Cluster) LeaseOwners(ctx context.Context) (map[string]int, error) {
	rows, err := c.SQL().QueryContext(ctx, c.q("SELECT lease_owner, COUNT(*) FROM jobs WHERE state = ? GROUP BY lease_owner"), store.JobLeased)
	if err != nil {
		return nil, fmt.Errorf("lease owners: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var o string
		var n int
		if err := rows.Scan(&o, &n); err != nil {
			return nil, err
		}
		out[o] = n
	}
	return out, rows.Err()
}

// TicketCounts counts the tickets with ids in [lo, hi]: all, closed, and
// halted in error.
func (c *Cluster) TicketCounts(ctx context.Context, lo, hi int64) (all, closed, halted int, err error) {
	row := c.SQL().QueryRowContext(ctx, c.q(`SELECT COUNT(*),
		COALESCE(SUM(CASE WHEN closed = ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN error <> '' THEN 1 ELSE 0 END), 0)
		FROM tickets WHERE id BETWEEN ? AND ?`), true, lo, hi)
	err = row.Scan(&all, &closed, &halted)
	return all, closed, halted, err
}

// WaitClosed waits until every ticket of res is closed, and fails the test
// (with what is still open and the jobs left) when one halts in error or
// timeout passes.
func (c *Cluster) WaitClosed(res LoadResult, timeout time.Duration) {
	c.t.Helper()
	ids := res.IDs()
	if len(ids) == 0 {
		c.t.Fatalf("clustertest: no ticket was filed")
	}
	lo, hi := ids[0], ids[len(ids)-1]
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		all, closed, halted, err := c.TicketCounts(ctx, lo, hi)
		cancel()
		switch {
		case err != nil:
			c.t.Fatalf("clustertest: count tickets: %v", err)
		case halted > 0:
			c.t.Fatalf("clustertest: %d tickets halted in error:\n%s", halted, c.describeOpen(lo, hi))
		case all == closed && all >= len(ids):
			return
		case time.Now().After(deadline):
			c.t.Fatalf("clustertest: %d of %d tickets still open %s after the last was filed:\n%s", all-closed, all, timeout, c.describeOpen(lo, hi))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// describeOpen lists a few open tickets with their jobs, for a failure
// message.
func (c *Cluster) describeOpen(lo, hi int64) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	rows, err := c.SQL().QueryContext(ctx, c.q(`SELECT t.id, t.status, t.error, COALESCE(j.id, 0), COALESCE(j.state, ''), COALESCE(j.lease_owner, ''), j.run_at, j.lease_expires, COALESCE(j.attempts, 0), COALESCE(j.last_error, '')
		FROM tickets t LEFT JOIN jobs j ON j.ticket_id = t.id
		WHERE t.id BETWEEN ? AND ? AND t.closed = ? ORDER BY t.id LIMIT 15`), lo, hi, false)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	for rows.Next() {
		var id, jid int64
		var status, terr, jstate, owner, lastErr string
		var runAt, expires sql.NullTime
		var attempts int
		if err := rows.Scan(&id, &status, &terr, &jid, &jstate, &owner, &runAt, &expires, &attempts, &lastErr); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "    ticket %d status=%q error=%q job=%d state=%s owner=%q run_at=%v lease_expires=%v attempts=%d last_error=%q\n",
			id, status, terr, jid, jstate, owner, runAt.Time.Format(time.RFC3339Nano), expires.Time.Format(time.RFC3339Nano), attempts, lastErr)
	}
	if owners, err := c.LeaseOwners(ctx); err == nil {
		fmt.Fprintf(&b, "    leased jobs by owner: %v\n", owners)
	}
	return b.String()
}

// Expect says what a ticket of a load looks like when its flow is done.
type Expect struct {
	// Path returns the nodes the ticket for n passes, in order; each must
	// be in the audit exactly once.
	Path func(n int) []string
	// Fields returns field values the ticket for ref and n must end with.
	Fields func(ref string, n int) map[string]string
}

// RelayExpect is what a relay ticket ends with: closed, status done, the
// number doubled and its parity, and the audit of RelayPath.
var RelayExpect = Expect{
	Path: RelayPath,
	Fields: func(ref string, n int) map[string]string {
		parity := "even"
		if n%2 == 1 {
			parity = "odd"
		}
		return map[string]string{FieldRef: ref, FieldN: strconv.Itoa(n), FieldState: "done", FieldTwice: strconv.Itoa(2 * n), FieldParity: parity}
	},
}

// VerifyRelay is Verify with RelayExpect.
func (c *Cluster) VerifyRelay(res LoadResult) []string { return c.Verify(res, RelayExpect) }

// Verify checks every ticket of a load: closed without error, the fields
// of ex, and an audit trail with "filed" once and every node of the
// ticket's path exactly once — no step lost, none run twice. It also
// checks that every ref was filed, and filed twice only when its first
// request was lost with a dying server. It returns the problems found (at
// most 25 are described).
func (c *Cluster) Verify(res LoadResult, ex Expect) []string {
	c.t.Helper()
	db := c.Store()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var problems []string
	bad := func(format string, args ...any) {
		if len(problems) < 25 {
			problems = append(problems, fmt.Sprintf(format, args...))
		} else if len(problems) == 25 {
			problems = append(problems, "... (more)")
		}
	}
	for _, ref := range res.Unfiled {
		bad("%s: never filed", ref)
	}
	for ref, ids := range res.Refs {
		if len(ids) > 1 && !res.LossRefs[ref] {
			bad("%s: filed %d times (tickets %v) though no request for it was lost", ref, len(ids), ids)
		}
		n := res.N[ref]
		for _, id := range ids {
			for _, p := range verifyTicket(ctx, db, id, ex.Path(n), ex.Fields(ref, n)) {
				bad("%s (ticket %d): %s", ref, id, p)
			}
		}
	}
	return problems
}

func verifyTicket(ctx context.Context, db *store.DB, id int64, path []string, want map[string]string) []string {
	var out []string
	t, err := db.TicketByID(ctx, id)
	if err != nil {
		return []string{err.Error()}
	}
	if !t.Closed || t.Error != "" {
		out = append(out, fmt.Sprintf("closed=%v error=%q status=%q, want closed without error", t.Closed, t.Error, t.Status))
	}
	fields := map[string]any{}
	d := json.NewDecoder(bytes.NewReader([]byte(t.Fields)))
	d.UseNumber()
	if err := d.Decode(&fields); err != nil {
		out = append(out, "fields: "+err.Error())
	}
	for k, v := range want {
		if got := fmt.Sprint(fields[k]); got != v {
			out = append(out, fmt.Sprintf("field %s = %q, want %q", k, got, v))
		}
	}
	evs, err := db.Events(ctx, id)
	if err != nil {
		return append(out, err.Error())
	}
	seen := map[string]int{}
	filed := 0
	var order []string
	for _, e := range evs {
		switch e.Kind {
		case "filed":
			filed++
		case "step", "closed":
			seen[e.NodeID]++
			order = append(order, e.NodeID)
		default:
			out = append(out, fmt.Sprintf("audit: unexpected %q event at %s: %s", e.Kind, e.NodeID, e.Message))
		}
	}
	if filed != 1 {
		out = append(out, fmt.Sprintf("audit: %d filed events, want 1", filed))
	}
	if strings.Join(order, ",") != strings.Join(path, ",") {
		for _, node := range path {
			if seen[node] != 1 {
				out = append(out, fmt.Sprintf("audit: step %s recorded %d times, want exactly once", node, seen[node]))
			}
		}
		out = append(out, fmt.Sprintf("audit: steps %v, want %v", order, path))
	}
	if len(evs) > 0 && evs[len(evs)-1].Kind != "closed" {
		out = append(out, fmt.Sprintf("audit: last event %q, want closed", evs[len(evs)-1].Kind))
	}
	return out
}

// StepCount counts the audit's step entries (kinds step and closed) of the
// tickets with ids in [lo, hi].
func (c *Cluster) StepCount(ctx context.Context, lo, hi int64) (int, error) {
	return c.count(ctx, "SELECT COUNT(*) FROM ticket_events WHERE ticket_id BETWEEN ? AND ? AND kind IN ('step', 'closed')", lo, hi)
}

// JobProblems checks the jobs table once every ticket of res is closed:
// no job is left for those tickets, no job is parked as failed, and no job
// is leased by an owner that is not a live process (owners are
// "NODE_NAME/random"; live lists the owners of running processes, or nil
// to require no leased job at all).
func (c *Cluster) JobProblems(res LoadResult) []string {
	c.t.Helper()
	ids := res.IDs()
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []string
	left, err := c.count(ctx, "SELECT COUNT(*) FROM jobs WHERE ticket_id BETWEEN ? AND ?", ids[0], ids[len(ids)-1])
	if err != nil {
		return []string{err.Error()}
	}
	if left > 0 {
		out = append(out, fmt.Sprintf("%d jobs left for closed tickets", left))
	}
	failed, err := c.count(ctx, "SELECT COUNT(*) FROM jobs WHERE state = ?", store.JobFailed)
	if err != nil {
		return append(out, err.Error())
	}
	if failed > 0 {
		out = append(out, fmt.Sprintf("%d jobs parked as failed", failed))
	}
	owners, err := c.LeaseOwners(ctx)
	if err != nil {
		return append(out, err.Error())
	}
	for o, n := range owners {
		out = append(out, fmt.Sprintf("%d jobs still leased by %q after every ticket closed", n, o))
	}
	return out
}

// StepAudit counts, over the tickets with ids in [lo, hi], the distinct
// (ticket, node) step entries of the audit and the entries beyond the
// first for a (ticket, node): a step lost shows as fewer distinct entries
// than expected, a step run twice as a duplicate.
func (c *Cluster) StepAudit(ctx context.Context, lo, hi int64) (distinct, duplicates int, err error) {
	row := c.SQL().QueryRowContext(ctx, c.q(`SELECT COUNT(*), COALESCE(SUM(n - 1), 0) FROM (
		SELECT ticket_id, node_id, COUNT(*) AS n FROM ticket_events
		WHERE ticket_id BETWEEN ? AND ? AND kind IN ('step', 'closed')
		GROUP BY ticket_id, node_id) g`), lo, hi)
	err = row.Scan(&distinct, &duplicates)
	return distinct, duplicates, err
}
