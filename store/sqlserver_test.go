// SQL Server is checked here without a server: no SQL Server can run on
// the development machine. The store is opened on GORM's real sqlserver
// dialector (store.OpenSQLServerPool, the gorm.Config Open uses) over a stub
// database/sql driver that records every statement and answers from a
// script, so the store's methods run end to end: the migration, the job
// outbox, tickets and tasks, settings, the booster lease and the clock.
//
// Identifiers are quoted the ANSI way ("name"), as GORM's sqlserver
// dialector writes them, not with brackets: go-mssqldb logs in with the
// ODBC flag, so its sessions run with QUOTED_IDENTIFIER ON, where "name" is
// an identifier (reserved words such as "key", "view", "add" and "delete"
// are column names here and must stay quoted).
//
// Verified for SQL Server (by the tests in this file):
//   - the DDL of migration 1 for every table: identifiers quoted; types are
//     bigint/bit/datetimeoffset/nvarchar(n)/nvarchar(MAX)/varbinary(MAX) (no
//     text, boolean, timestamp or blob); unsized strings are nvarchar(MAX),
//     bytes varbinary(MAX); IDENTITY(1,1) keys; defaults 0/1, never
//     true/false; every primary key and index key is at most 900 bytes and
//     has no MAX column; the named unique indexes exist;
//   - the migration lock (sp_getapplock, its return value read: a timeout
//     stops the migration) and its release;
//   - every statement: @pN placeholders numbered 1..len(args) with no "?"
//     left; no LIMIT (OFFSET ... FETCH NEXT instead), no RETURNING, SKIP
//     LOCKED, FOR UPDATE, ON CONFLICT, backticks, boolean literals or other
//     engines' functions (UTC_TIMESTAMP, INTERVAL, NOW(), CURRENT_TIMESTAMP);
//     every argument passes go-mssqldb's own argument conversion;
//   - jobs: enqueue (OUTPUT INSERTED."id" gives the ids back), claim by
//     conditional UPDATE then read back, ClaimDue taking the portable path
//     (not PostgreSQL's UPDATE ... RETURNING), finish/retry/fail/release
//     fenced by owner and token, a lost lease is ErrConflict;
//   - tickets: create and number, update conditional on the revision (a
//     stale one is ErrConflict), the list with LIKE ... ESCAPE '!' (with
//     "[" escaped: it opens a character class in SQL Server's LIKE) and
//     paging, task close (exactly one winner), open-task inbox;
//   - settings: the upsert is a MERGE ending in ";", keyed on the quoted
//     reserved word "key"; duplicate-key errors 2627/2601 are recognised
//     (store.IsDuplicate), so the change counter's insert race is handled;
//   - the booster lease: every time comes from SYSDATETIMEOFFSET() (no Go
//     clock value is sent), expiry by DATEADD(millisecond, n, ...) with n in
//     int range (n is sent as bigint, which SQL Server converts to the int
//     DATEADD takes); the database clock is read with SYSUTCDATETIME().
//
// Not verified (needs a real server): that SQL Server accepts and executes
// these statements (syntax is only checked against the rules above), the
// ALTER path of later migrations (GORM's AutoMigrate on an existing table
// reads INFORMATION_SCHEMA, which the stub cannot answer faithfully), lock
// and isolation behaviour (two claimers, MERGE under concurrency: two
// first writes of the same setting can collide on the key without a
// HOLDLOCK hint, and the loser gets an error), the 2100-parameter limit
// (a batch insert of more than ~150 jobs, or a ticket list visible through
// more than ~2000 flows, would exceed it), collation and case sensitivity
// of LIKE, and datetimeoffset round trips through go-mssqldb.
package store_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

// stubReply is what the stub database answers to one statement.
type stubReply struct {
	cols     []string
	rows     [][]driver.Value
	affected int64
	err      error
}

// stubStmt is one statement the store sent, with its arguments as
// go-mssqldb would have received them.
type stubStmt struct {
	SQL  string
	Args []any
}

// stubDB is a database/sql driver that runs nothing: it records every
// statement with its arguments and answers from a script (by default: no
// rows, one row affected). Arguments pass through go-mssqldb's own argument
// check, so a value the real driver refuses fails here too.
type stubDB struct {
	mu     sync.Mutex
	stmts  []stubStmt
	answer func(q string, args []any) (stubReply, bool)
}

func (s *stubDB) record(q string, nv []driver.NamedValue) stubReply {
	args := make([]any, len(nv))
	for i, v := range nv {
		args[i] = v.Value
	}
	s.mu.Lock()
	s.stmts = append(s.stmts, stubStmt{SQL: q, Args: args})
	answer := s.answer
	s.mu.Unlock()
	if answer != nil {
		if r, ok := answer(q, args); ok {
			return r
		}
	}
	return stubReply{affected: 1}
}

func (s *stubDB) mark(word string) {
	s.mu.Lock()
	s.stmts = append(s.stmts, stubStmt{SQL: word})
	s.mu.Unlock()
}

// take returns the statements recorded since the last take.
func (s *stubDB) take() []stubStmt {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.stmts
	s.stmts = nil
	return out
}

// script sets how the stub answers; nil restores the default.
func (s *stubDB) script(f func(q string, args []any) (stubReply, bool)) {
	s.mu.Lock()
	s.answer = f
	s.mu.Unlock()
}

func (s *stubDB) Connect(context.Context) (driver.Conn, error) { return &stubConn{db: s}, nil }
func (s *stubDB) Driver() driver.Driver                        { return stubDriver{s} }

type stubDriver struct{ db *stubDB }

func (d stubDriver) Open(string) (driver.Conn, error) { return &stubConn{db: d.db}, nil }

type stubConn struct{ db *stubDB }

func (c *stubConn) Prepare(q string) (driver.Stmt, error) {
	return nil, driver.ErrSkip
}
func (c *stubConn) Close() error               { return nil }
func (c *stubConn) Ping(context.Context) error { return nil }
func (c *stubConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// CheckNamedValue converts arguments exactly as go-mssqldb does.
func (c *stubConn) CheckNamedValue(nv *driver.NamedValue) error {
	return (&mssql.Conn{}).CheckNamedValue(nv)
}

func (c *stubConn) BeginTx(context.Context, driver.TxOptions) (driver.Tx, error) {
	c.db.mark("BEGIN")
	return stubTx{c.db}, nil
}

func (c *stubConn) ExecContext(_ context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	r := c.db.record(q, args)
	if r.err != nil {
		return nil, r.err
	}
	return driver.RowsAffected(r.affected), nil
}

func (c *stubConn) QueryContext(_ context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	r := c.db.record(q, args)
	if r.err != nil {
		return nil, r.err
	}
	return &stubRows{cols: r.cols, rows: r.rows}, nil
}

type stubTx struct{ db *stubDB }

func (t stubTx) Commit() error   { t.db.mark("COMMIT"); return nil }
func (t stubTx) Rollback() error { t.db.mark("ROLLBACK"); return nil }

type stubRows struct {
	cols []string
	rows [][]driver.Value
}

func (r *stubRows) Columns() []string { return r.cols }
func (r *stubRows) Close() error      { return nil }
func (r *stubRows) Next(dest []driver.Value) error {
	if len(r.rows) == 0 {
		return io.EOF
	}
	copy(dest, r.rows[0])
	r.rows = r.rows[1:]
	return nil
}

// openSQLServerStub opens a store on GORM's SQL Server dialect over the stub.
func openSQLServerStub(t *testing.T) (*store.DB, *stubDB) {
	t.Helper()
	stub := &stubDB{}
	pool := sql.OpenDB(stub)
	t.Cleanup(func() { _ = pool.Close() })
	db, err := store.OpenSQLServerPool(pool, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	stub.take()
	return db, stub
}

// --- checks every statement must pass ---

var (
	placeholderRe = regexp.MustCompile(`@p(\d+)`)
	notTSQL       = []struct {
		re  *regexp.Regexp
		why string
	}{
		{regexp.MustCompile(`(?i)\bLIMIT\b`), "LIMIT: SQL Server pages with OFFSET ... FETCH NEXT"},
		{regexp.MustCompile(`(?i)\bRETURNING\b`), "RETURNING is PostgreSQL's; SQL Server has OUTPUT"},
		{regexp.MustCompile(`(?i)\bSKIP\s+LOCKED\b|\bFOR\s+UPDATE\b`), "row locking clause of PostgreSQL/MySQL"},
		{regexp.MustCompile(`(?i)\bON\s+CONFLICT\b|\bON\s+DUPLICATE\s+KEY\b`), "upsert of another engine; SQL Server has MERGE"},
		{regexp.MustCompile("`"), "backtick quoting is MySQL's"},
		{regexp.MustCompile(`(?i)\bAUTO_?INCREMENT\b|\bSERIAL\b`), "auto-increment of another engine; SQL Server has IDENTITY"},
		{regexp.MustCompile(`(?i)\bUTC_TIMESTAMP\b|\bINTERVAL\b|\bNOW\s*\(|\bDATE_ADD\b|\bCURRENT_TIMESTAMP\b`),
			"time function of another engine (CURRENT_TIMESTAMP is the server's local time on SQL Server)"},
		{regexp.MustCompile(`(?i)\bTRUE\b|\bFALSE\b`), "T-SQL has no boolean literals"},
		{regexp.MustCompile(`(?i)\b(text|ntext|longtext|blob|bytea|boolean|timestamptz|datetime2?)\b`), "type SQL Server lacks or this schema must not use"},
		{regexp.MustCompile(`\?`), "unbound ? placeholder"},
	}
)

func isTxMark(s stubStmt) bool { return s.SQL == "BEGIN" || s.SQL == "COMMIT" || s.SQL == "ROLLBACK" }

// lint checks what every statement sent to SQL Server must satisfy.
func lint(t *testing.T, ss []stubStmt) {
	t.Helper()
	if len(ss) == 0 {
		t.Fatal("no statements recorded")
	}
	for _, s := range ss {
		if isTxMark(s) {
			continue
		}
		for _, f := range notTSQL {
			if m := f.re.FindString(s.SQL); m != "" {
				t.Errorf("%q: %s\n  in %s", m, f.why, s.SQL)
			}
		}
		seen := map[int]bool{}
		for _, m := range placeholderRe.FindAllStringSubmatch(s.SQL, -1) {
			n, _ := strconv.Atoi(m[1])
			seen[n] = true
		}
		if len(seen) != len(s.Args) {
			t.Errorf("%d distinct placeholders for %d arguments in %s", len(seen), len(s.Args), s.SQL)
		}
		for i := 1; i <= len(s.Args); i++ {
			if !seen[i] {
				t.Errorf("argument @p%d is never used in %s", i, s.SQL)
			}
		}
		for i, a := range s.Args {
			switch v := a.(type) {
			case nil, string, []byte, bool, int, int8, int16, int32, int64, float64:
			case time.Time:
				if v.Location() != time.UTC {
					t.Errorf("@p%d is a time in %s, not UTC, in %s", i+1, v.Location(), s.SQL)
				}
			default:
				t.Errorf("@p%d has type %T, which go-mssqldb does not send as is, in %s", i+1, a, s.SQL)
			}
		}
	}
}

// sent returns the statements (transaction marks left out).
func sent(ss []stubStmt) []stubStmt {
	var out []stubStmt
	for _, s := range ss {
		if !isTxMark(s) {
			out = append(out, s)
		}
	}
	return out
}

func sqlOf(ss []stubStmt) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.SQL
	}
	return out
}

// expectSQL compares the statements sent (with transaction marks) with want.
func expectSQL(t *testing.T, ss []stubStmt, want ...string) {
	t.Helper()
	got := sqlOf(ss)
	if !slices.Equal(got, want) {
		t.Fatalf("statements sent:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// argAt returns the argument bound right after fragment in s, e.g.
// argAt(s, `"state"=`) or argAt(s, "revision = ").
func argAt(t *testing.T, s stubStmt, fragment string) any {
	t.Helper()
	i := strings.Index(s.SQL, fragment+"@p")
	if i < 0 {
		t.Fatalf("%q@pN not in %s", fragment, s.SQL)
	}
	rest := s.SQL[i+len(fragment)+2:]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	n, _ := strconv.Atoi(rest[:j])
	if n < 1 || n > len(s.Args) {
		t.Fatalf("@p%d out of range in %s", n, s.SQL)
	}
	return s.Args[n-1]
}

func rows(cols []string, vals ...[]driver.Value) stubReply {
	return stubReply{cols: cols, rows: vals}
}

func lockOK(q string) (stubReply, bool) {
	if strings.Contains(q, "sp_getapplock") {
		return rows([]string{""}, []driver.Value{int64(0)}), true
	}
	return stubReply{}, false
}

// --- the migration ---

var (
	createTableRe = regexp.MustCompile(`^CREATE TABLE "(\w+)" \((.*)\)$`)
	createIndexRe = regexp.MustCompile(`^CREATE (UNIQUE )?INDEX "(\w+)" ON "(\w+)"\((.*)\)$`)
	columnRe      = regexp.MustCompile(`^"(\w+)" (.+)$`)
	primaryKeyRe  = regexp.MustCompile(`^PRIMARY KEY \((.*)\)$`)
	columnTypeRe  = regexp.MustCompile(`^(bigint|int|smallint|bit|datetimeoffset|nvarchar\((\d+|MAX)\)|varbinary\(MAX\))( IDENTITY\(1,1\))?( NOT NULL)?( DEFAULT -?\d+)?$`)
)

// splitTop splits s at commas outside parentheses.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// quotedNames parses "a","b".
func quotedNames(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	for _, p := range splitTop(s) {
		if len(p) < 3 || p[0] != '"' || p[len(p)-1] != '"' || strings.ContainsAny(p[1:len(p)-1], `" `) {
			t.Errorf("column %q in a key is not a quoted identifier", p)
			continue
		}
		out = append(out, p[1:len(p)-1])
	}
	return out
}

// keyBytes is the size a column takes in an index key; -1 for a MAX
// column, which cannot be a key column at all.
func keyBytes(typ string) int {
	m := columnTypeRe.FindStringSubmatch(typ)
	if m == nil {
		return -1
	}
	switch base := m[1]; {
	case base == "bigint":
		return 8
	case base == "int":
		return 4
	case base == "smallint":
		return 2
	case base == "bit":
		return 1
	case base == "datetimeoffset":
		return 10
	case m[2] != "" && m[2] != "MAX":
		n, _ := strconv.Atoi(m[2])
		return 2 * n
	}
	return -1
}

func TestSQLServerMigrationDDL(t *testing.T) {
	db, stub := openSQLServerStub(t)
	stub.script(func(q string, _ []any) (stubReply, bool) { return lockOK(q) })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	ss := stub.take()
	lint(t, ss)

	first, last := ss[0].SQL, ss[len(ss)-1].SQL
	if !strings.HasPrefix(first, "DECLARE @r int; EXEC @r = sp_getapplock @Resource = 'omflow_migrate'") || !strings.HasSuffix(first, "; SELECT @r") {
		t.Errorf("first statement is not the migration lock: %s", first)
	}
	if last != "EXEC sp_releaseapplock @Resource = 'omflow_migrate', @LockOwner = 'Session'" {
		t.Errorf("last statement is not the lock's release: %s", last)
	}

	tables := map[string]map[string]string{} // table -> column -> type
	keys := map[string][]string{}            // "table: PRIMARY KEY" or "table: index" -> columns
	unique := map[string]bool{}
	lastCreate, record := -1, -1
	for i, s := range ss {
		switch {
		case strings.HasPrefix(s.SQL, "CREATE TABLE"):
			lastCreate = i
			m := createTableRe.FindStringSubmatch(s.SQL)
			if m == nil {
				t.Errorf("CREATE TABLE not understood: %s", s.SQL)
				continue
			}
			cols := map[string]string{}
			tables[m[1]] = cols
			for _, def := range splitTop(m[2]) {
				if pk := primaryKeyRe.FindStringSubmatch(def); pk != nil {
					keys[m[1]+": PRIMARY KEY"] = quotedNames(t, pk[1])
					continue
				}
				c := columnRe.FindStringSubmatch(def)
				if c == nil {
					t.Errorf("%s: column definition %q is not a quoted name and a type", m[1], def)
					continue
				}
				if !columnTypeRe.MatchString(c[2]) {
					t.Errorf("%s.%s: type %q is not one this schema should have on SQL Server", m[1], c[1], c[2])
				}
				if n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(c[2], "nvarchar("), ")")); err == nil && n > 4000 {
					t.Errorf("%s.%s: nvarchar(%d) is over 4000: use nvarchar(MAX)", m[1], c[1], n)
				}
				cols[c[1]] = c[2]
			}
		case strings.HasPrefix(s.SQL, "CREATE UNIQUE INDEX"), strings.HasPrefix(s.SQL, "CREATE INDEX"):
			lastCreate = i
			m := createIndexRe.FindStringSubmatch(s.SQL)
			if m == nil {
				t.Errorf("CREATE INDEX not understood: %s", s.SQL)
				continue
			}
			name := m[3] + ": " + m[2]
			keys[name] = quotedNames(t, m[4])
			unique[name] = m[1] != ""
		case strings.HasPrefix(s.SQL, `INSERT INTO "schema_migrations"`):
			record = i
			if s.Args[0] != 1 || s.Args[1] != "initial schema" {
				t.Errorf("migration recorded as %v", s.Args)
			}
		}
	}
	if record < lastCreate {
		t.Errorf("the migration is recorded (statement %d) before its last CREATE (statement %d)", record, lastCreate)
	}

	for _, name := range []string{"schema_migrations", "users", "groups", "group_members", "roles", "role_members",
		"sessions", "api_tokens", "apps", "flows", "flow_versions", "flow_permissions", "tickets", "ticket_events",
		"tasks", "attachments", "settings", "change_versions", "jobs", "booster_leases"} {
		if tables[name] == nil {
			t.Errorf("no CREATE TABLE for %s", name)
		} else if keys[name+": PRIMARY KEY"] == nil {
			t.Errorf("%s has no primary key", name)
		}
	}
	// Representative columns, one for each rule.
	for col, want := range map[string]string{
		"users.id":                  "bigint IDENTITY(1,1)",      // IDENTITY keys
		"users.admin":               "bit NOT NULL DEFAULT 0",    // bool default false
		"flows.enabled":             "bit NOT NULL DEFAULT 1",    // bool default true
		"settings.key":              "nvarchar(191)",             // reserved word, quoted, sized key
		"apps.raw":                  "nvarchar(MAX)",             // unsized string
		"tickets.fields":            "nvarchar(MAX) NOT NULL",    // JSON column
		"tickets.state":             "nvarchar(MAX) NOT NULL",    // engine state
		"attachments.data":          "varbinary(MAX)",            // file contents
		"jobs.run_at":               "datetimeoffset NOT NULL",   // times
		"jobs.lease_token":          "bigint NOT NULL DEFAULT 0", // fencing token
		"flow_permissions.delete":   "bit NOT NULL DEFAULT 0",    // reserved word column
		"booster_leases.expires_at": "datetimeoffset",            // compared with SYSDATETIMEOFFSET()
	} {
		table, name, _ := strings.Cut(col, ".")
		if got := tables[table][name]; got != want {
			t.Errorf("%s is %q, want %q", col, got, want)
		}
	}
	for key, cols := range keys {
		table, _, _ := strings.Cut(key, ":")
		size := 0
		for _, c := range cols {
			typ, ok := tables[table][c]
			if !ok {
				t.Errorf("%s names column %s, which %s lacks", key, c, table)
				continue
			}
			n := keyBytes(typ)
			if n < 0 {
				t.Errorf("%s: column %s (%s) cannot be an index key on SQL Server", key, c, typ)
			}
			size += n
		}
		if size > 900 {
			t.Errorf("%s: key of %d bytes is over SQL Server's 900", key, size)
		}
	}
	for name, cols := range map[string]string{
		"users: idx_users_username":                     "username",
		"groups: idx_groups_name":                       "name",
		"roles: idx_roles_name":                         "name",
		"apps: idx_apps_name":                           "name",
		"flows: idx_flows_api_path":                     "api_path",
		"api_tokens: idx_api_tokens_token_hash":         "token_hash",
		"tickets: idx_tickets_no":                       "no",
		"flow_versions: idx_flow_versions_flow_version": "flow_id,version",
	} {
		if !unique[name] || strings.Join(keys[name], ",") != cols {
			t.Errorf("want unique index %s on (%s), have unique=%v on %v", name, cols, unique[name], keys[name])
		}
	}
	if got := strings.Join(keys["jobs: idx_jobs_due"], ","); got != "state,run_at" {
		t.Errorf("jobs: idx_jobs_due on (%s), want (state,run_at)", got)
	}
}

// A lock that times out answers with a negative status, not an error: the
// migration must stop there.
func TestSQLServerMigrationLockTimeout(t *testing.T) {
	db, stub := openSQLServerStub(t)
	stub.script(func(q string, _ []any) (stubReply, bool) {
		if strings.Contains(q, "sp_getapplock") {
			return rows([]string{""}, []driver.Value{int64(-1)}), true
		}
		return stubReply{}, false
	})
	err := db.Migrate(context.Background())
	if err == nil || !strings.Contains(err.Error(), "sp_getapplock returned -1") {
		t.Fatalf("Migrate = %v, want the lock's failure", err)
	}
	for _, s := range stub.take() {
		if strings.HasPrefix(s.SQL, "CREATE") || strings.HasPrefix(s.SQL, "INSERT") {
			t.Errorf("ran %s without the lock", s.SQL)
		}
	}
}

// --- jobs ---

var jobCols = []string{"id", "kind", "ticket_id", "state", "run_at", "attempts", "lease_owner", "lease_expires", "lease_token"}

func jobRow(id int64, owner string, token int64) []driver.Value {
	now := time.Now().UTC()
	return []driver.Value{id, "step", int64(5), store.JobLeased, now, int64(1), owner, now.Add(time.Minute), token}
}

func TestSQLServerJobs(t *testing.T) {
	ctx := context.Background()
	db, stub := openSQLServerStub(t)

	t.Run("enqueue", func(t *testing.T) {
		stub.take()
		stub.script(func(q string, _ []any) (stubReply, bool) {
			if strings.HasPrefix(q, `INSERT INTO "jobs"`) {
				return rows([]string{"id"}, []driver.Value{int64(11)}, []driver.Value{int64(12)}), true
			}
			return stubReply{}, false
		})
		later := time.Now().Add(time.Hour)
		a, b := &store.Job{Kind: "step", TicketID: 5}, &store.Job{Kind: "timer", TicketID: 5, RunAt: later.In(time.FixedZone("JST", 9*3600))}
		if err := db.EnqueueJobs(ctx, a, b); err != nil {
			t.Fatal(err)
		}
		ss := stub.take()
		lint(t, ss)
		cols := `"kind","ticket_id","node_id","payload","state","run_at","attempts","lease_owner","lease_expires","lease_token","last_error","created_at","updated_at"`
		var ph []string
		for i := 1; i <= 26; i++ {
			ph = append(ph, fmt.Sprintf("@p%d", i))
		}
		expectSQL(t, ss, `INSERT INTO "jobs" (`+cols+`) OUTPUT INSERTED."id" VALUES (`+strings.Join(ph[:13], ",")+`),(`+strings.Join(ph[13:], ",")+`);`)
		if a.ID != 11 || b.ID != 12 {
			t.Errorf("ids from OUTPUT INSERTED: %d, %d; want 11, 12", a.ID, b.ID)
		}
		if args := ss[0].Args; args[4] != store.JobReady || args[17] != store.JobReady || !args[18].(time.Time).Equal(later) {
			t.Errorf("state/run_at arguments %v %v %v", args[4], args[17], args[18])
		}
	})

	t.Run("claim", func(t *testing.T) {
		stub.take()
		stub.script(func(q string, args []any) (stubReply, bool) {
			if strings.HasPrefix(q, `SELECT * FROM "jobs"`) {
				return rows(jobCols, jobRow(args[0].(int64), args[1].(string), 4)), true
			}
			return stubReply{}, false
		})
		j, err := db.ClaimJob(ctx, 11, "node-a", time.Minute)
		if err != nil || j == nil || j.ID != 11 || j.LeaseOwner != "node-a" || j.LeaseToken != 4 {
			t.Fatalf("ClaimJob = %+v, %v", j, err)
		}
		ss := stub.take()
		lint(t, ss)
		expectSQL(t, ss,
			`UPDATE "jobs" SET "attempts"=attempts + 1,"lease_expires"=@p1,"lease_owner"=@p2,"lease_token"=lease_token + 1,"state"=@p3,"updated_at"=@p4 WHERE id = @p5 AND ((state = @p6 AND run_at <= @p7) OR (state = @p8 AND lease_expires < @p9))`,
			`SELECT * FROM "jobs" WHERE id = @p1 AND lease_owner = @p2 ORDER BY "id" OFFSET 0 ROW FETCH NEXT 1 ROWS ONLY`)
		up := ss[0]
		exp, now := argAt(t, up, `"lease_expires"=`).(time.Time), argAt(t, up, `"updated_at"=`).(time.Time)
		if exp.Sub(now) != time.Minute || argAt(t, up, `"state"=`) != store.JobLeased || argAt(t, up, "id = ") != int64(11) {
			t.Errorf("claim arguments %v", up.Args)
		}
	})

	t.Run("claim lost", func(t *testing.T) {
		stub.take()
		stub.script(func(q string, _ []any) (stubReply, bool) {
			if strings.HasPrefix(q, `UPDATE "jobs"`) {
				return stubReply{affected: 0}, true
			}
			return stubReply{}, false
		})
		j, err := db.ClaimJob(ctx, 11, "node-a", time.Minute)
		if j != nil || err != nil {
			t.Fatalf("lost claim = %+v, %v; want nil, nil", j, err)
		}
		if ss := stub.take(); len(ss) != 1 {
			t.Fatalf("lost claim sent %d statements: %v", len(ss), sqlOf(ss))
		}
	})

	t.Run("claim due takes the portable path", func(t *testing.T) {
		stub.take()
		stub.script(func(q string, args []any) (stubReply, bool) {
			switch {
			case strings.HasPrefix(q, `SELECT "id" FROM "jobs"`):
				return rows([]string{"id"}, []driver.Value{int64(11)}, []driver.Value{int64(12)}, []driver.Value{int64(13)}), true
			case strings.HasPrefix(q, `UPDATE "jobs"`) && args[4] == int64(12):
				return stubReply{affected: 0}, true // another server won job 12
			case strings.HasPrefix(q, `SELECT * FROM "jobs"`):
				return rows(jobCols, jobRow(args[0].(int64), args[1].(string), 1)), true
			}
			return stubReply{}, false
		})
		jobs, err := db.ClaimDue(ctx, "node-a", 2, time.Minute)
		if err != nil || len(jobs) != 2 || jobs[0].ID != 11 || jobs[1].ID != 13 {
			t.Fatalf("ClaimDue = %v, %v; want jobs 11 and 13", jobs, err)
		}
		ss := stub.take()
		lint(t, ss)
		if got := ss[0].SQL; got != `SELECT "id" FROM "jobs" WHERE ((state = @p1 AND run_at <= @p2) OR (state = @p3 AND lease_expires < @p4)) ORDER BY run_at OFFSET 0 ROW FETCH NEXT 4 ROWS ONLY` {
			t.Errorf("due jobs query: %s", got)
		}
		var kinds []string
		for _, s := range ss {
			kinds = append(kinds, strings.SplitN(s.SQL, " ", 2)[0])
		}
		if strings.Join(kinds, " ") != "SELECT UPDATE SELECT UPDATE UPDATE SELECT" {
			t.Errorf("statement sequence %v", kinds)
		}
	})

	j := &store.Job{ID: 11, LeaseOwner: "node-a", LeaseToken: 4}
	t.Run("finish", func(t *testing.T) {
		stub.take()
		stub.script(nil)
		if err := db.FinishJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		ss := stub.take()
		lint(t, ss)
		expectSQL(t, ss, `DELETE FROM "jobs" WHERE id = @p1 AND lease_owner = @p2 AND lease_token = @p3 AND state = @p4`)
		if !reflect.DeepEqual(ss[0].Args, []any{int64(11), "node-a", int64(4), store.JobLeased}) {
			t.Errorf("finish arguments %v", ss[0].Args)
		}
		stub.script(func(string, []any) (stubReply, bool) { return stubReply{affected: 0}, true })
		if err := db.FinishJob(ctx, j); !errors.Is(err, store.ErrConflict) {
			t.Errorf("finish after the lease was lost = %v, want ErrConflict", err)
		}
		stub.take()
	})

	t.Run("retry fail release", func(t *testing.T) {
		stub.take()
		stub.script(func(q string, _ []any) (stubReply, bool) {
			if strings.Contains(q, "WHERE state = @p5 AND lease_owner = @p6") {
				return stubReply{affected: 3}, true
			}
			return stubReply{}, false
		})
		if err := db.RetryJob(ctx, j, 30*time.Second, "boom"); err != nil {
			t.Fatal(err)
		}
		if err := db.FailJob(ctx, j, "bad"); err != nil {
			t.Fatal(err)
		}
		n, err := db.ReleaseOwner(ctx, "node-a")
		if err != nil || n != 3 {
			t.Fatalf("ReleaseOwner = %d, %v; want 3", n, err)
		}
		ss := stub.take()
		lint(t, ss)
		expectSQL(t, ss,
			`UPDATE "jobs" SET "last_error"=@p1,"lease_expires"=@p2,"lease_owner"=@p3,"run_at"=@p4,"state"=@p5,"updated_at"=@p6 WHERE id = @p7 AND lease_owner = @p8 AND lease_token = @p9`,
			`UPDATE "jobs" SET "last_error"=@p1,"lease_expires"=@p2,"lease_owner"=@p3,"state"=@p4,"updated_at"=@p5 WHERE id = @p6 AND lease_owner = @p7 AND lease_token = @p8`,
			`UPDATE "jobs" SET "lease_expires"=@p1,"lease_owner"=@p2,"state"=@p3,"updated_at"=@p4 WHERE state = @p5 AND lease_owner = @p6`)
		retry := ss[0]
		runAt, now := argAt(t, retry, `"run_at"=`).(time.Time), argAt(t, retry, `"updated_at"=`).(time.Time)
		if d := runAt.Sub(now); d < 29*time.Second || d > 31*time.Second || argAt(t, retry, `"lease_expires"=`) != nil {
			t.Errorf("retry arguments %v", retry.Args)
		}
		if argAt(t, ss[1], `"state"=`) != store.JobFailed {
			t.Errorf("fail arguments %v", ss[1].Args)
		}
	})

	t.Run("next run and counts", func(t *testing.T) {
		stub.take()
		due := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		stub.script(func(q string, _ []any) (stubReply, bool) {
			switch {
			case strings.HasPrefix(q, `SELECT "run_at"`):
				return rows([]string{"run_at"}, []driver.Value{due}), true
			case strings.Contains(q, "COUNT(*)"):
				return rows([]string{"state", "n"}, []driver.Value{"ready", int64(3)}, []driver.Value{"leased", int64(1)}), true
			}
			return stubReply{}, false
		})
		next, err := db.NextRunAt(ctx)
		if err != nil || !next.Equal(due) {
			t.Fatalf("NextRunAt = %v, %v", next, err)
		}
		counts, err := db.JobCounts(ctx)
		if err != nil || counts[store.JobReady] != 3 || counts[store.JobLeased] != 1 || counts[store.JobFailed] != 0 {
			t.Fatalf("JobCounts = %v, %v", counts, err)
		}
		ss := stub.take()
		lint(t, ss)
		expectSQL(t, ss,
			`SELECT "run_at" FROM "jobs" WHERE state = @p1 ORDER BY run_at OFFSET 0 ROW FETCH NEXT 1 ROWS ONLY`,
			`SELECT state, COUNT(*) AS n FROM "jobs" GROUP BY "state"`)
	})
}

// --- tickets and tasks ---

func TestSQLServerTickets(t *testing.T) {
	ctx := context.Background()
	db, stub := openSQLServerStub(t)

	tk := &store.Ticket{FlowID: 3, FlowVersionID: 9, Version: 1, CreatorID: 2, Fields: "{}", Vars: "{}", State: "{}", Title: "printer"}
	t.Run("create", func(t *testing.T) {
		stub.take()
		stub.script(func(q string, _ []any) (stubReply, bool) {
			if strings.HasPrefix(q, `INSERT INTO "tickets"`) {
				return rows([]string{"id"}, []driver.Value{int64(42)}), true
			}
			return stubReply{}, false
		})
		if err := db.CreateTicket(ctx, tk, "mission"); err != nil {
			t.Fatal(err)
		}
		if tk.ID != 42 || tk.No != "MISSION-000042" {
			t.Fatalf("ticket %d numbered %q", tk.ID, tk.No)
		}
		ss := stub.take()
		lint(t, ss)
		var ph []string
		for i := 1; i <= 19; i++ {
			ph = append(ph, fmt.Sprintf("@p%d", i))
		}
		expectSQL(t, ss, "BEGIN",
			`INSERT INTO "tickets" ("no","flow_id","flow_version_id","version","title","status","level","group_name","assignee_id","creator_id","closed","error","fields","vars","state","revision","created_at","updated_at","closed_at") OUTPUT INSERTED."id" VALUES (`+strings.Join(ph, ",")+`);`,
			`UPDATE "tickets" SET "no"=@p1,"updated_at"=@p2 WHERE id = @p3`,
			"COMMIT")
		if no := ss[1].Args[0].(string); !strings.HasPrefix(no, "~") {
			t.Errorf("placeholder number %q: SQL Server's unique index allows one NULL only, so it must be a unique text", no)
		}
		if ss[2].Args[0] != "MISSION-000042" || ss[2].Args[2] != int64(42) {
			t.Errorf("numbering arguments %v", ss[2].Args)
		}
	})

	t.Run("update checks the revision", func(t *testing.T) {
		stub.take()
		stub.script(nil)
		tk.Revision = 7
		if err := db.UpdateTicket(ctx, tk); err != nil || tk.Revision != 8 {
			t.Fatalf("UpdateTicket = %v, revision %d", err, tk.Revision)
		}
		stub.script(func(string, []any) (stubReply, bool) { return stubReply{affected: 0}, true })
		if err := db.UpdateTicket(ctx, tk); !errors.Is(err, store.ErrConflict) || tk.Revision != 8 {
			t.Fatalf("stale UpdateTicket = %v, revision %d; want ErrConflict, 8", err, tk.Revision)
		}
		ss := stub.take()
		lint(t, ss)
		want := `UPDATE "tickets" SET "assignee_id"=@p1,"closed"=@p2,"closed_at"=@p3,"error"=@p4,"fields"=@p5,"group_name"=@p6,"level"=@p7,"revision"=@p8,"state"=@p9,"status"=@p10,"title"=@p11,"updated_at"=@p12,"vars"=@p13 WHERE id = @p14 AND revision = @p15`
		expectSQL(t, ss, want, want)
		if argAt(t, ss[0], `"revision"=`) != int64(8) || argAt(t, ss[0], "AND revision = ") != int64(7) {
			t.Errorf("revision arguments %v", ss[0].Args)
		}
	})

	t.Run("list pages and escapes LIKE", func(t *testing.T) {
		stub.take()
		stub.script(func(q string, _ []any) (stubReply, bool) {
			switch {
			case strings.HasPrefix(q, "SELECT count(*)"):
				return rows([]string{"count"}, []driver.Value{int64(77)}), true
			case strings.HasPrefix(q, "SELECT id, no"):
				return rows([]string{"id", "no", "flow_id", "title"}, []driver.Value{int64(42), "MISSION-000042", int64(3), "printer"}), true
			}
			return stubReply{}, false
		})
		closed := false
		list, total, err := db.Tickets(ctx, store.TicketQuery{FlowID: 3, Closed: &closed, Text: "50%_[b]!",
			Visible: []int64{3, 4}, VisibleCreator: 9, Offset: 40, Limit: 20})
		if err != nil || total != 77 || len(list) != 1 || list[0].No != "MISSION-000042" {
			t.Fatalf("Tickets = %v, %d, %v", list, total, err)
		}
		if _, _, err := db.Tickets(ctx, store.TicketQuery{Visible: []int64{}, VisibleCreator: 9, Limit: 20}); err != nil {
			t.Fatal(err)
		}
		ss := stub.take()
		lint(t, ss)
		where := `WHERE flow_id = @p1 AND closed = @p2 AND ((no LIKE @p3 ESCAPE '!' OR title LIKE @p4 ESCAPE '!')) AND ((flow_id IN (@p5,@p6) OR creator_id = @p7))`
		cols := "id, no, flow_id, flow_version_id, version, title, status, level, group_name, assignee_id, creator_id, closed, error, created_at, updated_at, closed_at"
		expectSQL(t, ss,
			`SELECT count(*) FROM "tickets" `+where,
			`SELECT `+cols+` FROM "tickets" `+where+` ORDER BY id DESC OFFSET 40 ROWS FETCH NEXT 20 ROWS ONLY`,
			`SELECT count(*) FROM "tickets" WHERE creator_id = @p1`,
			`SELECT `+cols+` FROM "tickets" WHERE creator_id = @p1 ORDER BY id DESC OFFSET 0 ROW FETCH NEXT 20 ROWS ONLY`)
		if got := ss[0].Args[2]; got != "%50!%!_![b]!!%" {
			t.Errorf("LIKE pattern %q, want %q", got, "%50!%!_![b]!!%")
		}
		if ss[0].Args[1] != false {
			t.Errorf("closed argument %#v, want the bool false (sent as bit)", ss[0].Args[1])
		}
	})

	t.Run("close task has one winner", func(t *testing.T) {
		stub.take()
		stub.script(nil)
		uid := int64(2)
		task := &store.Task{ID: 4, Action: "action1", CompletedBy: &uid}
		if err := db.CloseTask(ctx, task, store.TaskDone); err != nil || task.State != store.TaskDone {
			t.Fatalf("CloseTask = %v, state %q", err, task.State)
		}
		stub.script(func(string, []any) (stubReply, bool) { return stubReply{affected: 0}, true })
		if err := db.CloseTask(ctx, &store.Task{ID: 4}, store.TaskDone); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second CloseTask = %v, want ErrConflict", err)
		}
		stub.script(nil)
		if _, err := db.OpenTasks(ctx, store.TaskQuery{UserID: 2, Groups: []string{"support", "7"}}); err != nil {
			t.Fatal(err)
		}
		ss := stub.take()
		lint(t, ss)
		want := `UPDATE "tasks" SET "action"=@p1,"completed_at"=@p2,"completed_by"=@p3,"state"=@p4 WHERE id = @p5 AND state = @p6`
		expectSQL(t, ss, want, want,
			`SELECT * FROM "tasks" WHERE state = @p1 AND ((assignee_id = @p2 OR group_name IN (@p3,@p4))) ORDER BY id OFFSET 0 ROW FETCH NEXT 500 ROWS ONLY`)
		if argAt(t, ss[0], "AND state = ") != store.TaskOpen || argAt(t, ss[0], `"completed_by"=`) != int64(2) {
			t.Errorf("close arguments %v", ss[0].Args)
		}
	})
}

// --- settings ---

func TestSQLServerSettings(t *testing.T) {
	ctx := context.Background()
	db, stub := openSQLServerStub(t)

	t.Run("upsert is a MERGE", func(t *testing.T) {
		stub.take()
		if err := db.SetSettings(ctx, map[string]string{store.SettingLogLevel: "debug", store.SettingDefaultLang: "en"}); err != nil {
			t.Fatal(err)
		}
		ss := stub.take()
		lint(t, ss)
		merge := `MERGE INTO "settings" USING (VALUES(@p1,@p2,@p3)) AS excluded ("key","value","updated_at") ON "settings"."key" = "excluded"."key" WHEN MATCHED THEN UPDATE SET "value"="excluded"."value","updated_at"="excluded"."updated_at" WHEN NOT MATCHED THEN INSERT ("key","value","updated_at") VALUES ("excluded"."key","excluded"."value","excluded"."updated_at");`
		expectSQL(t, ss, "BEGIN", merge, merge,
			`UPDATE "change_versions" SET "updated_at"=@p1,"version"=version + 1 WHERE scope = @p2`, "COMMIT")
		if ss[1].Args[0] != store.SettingDefaultLang || ss[1].Args[1] != "en" || ss[2].Args[0] != store.SettingLogLevel || ss[2].Args[1] != "debug" {
			t.Errorf("merge arguments %v %v", ss[1].Args, ss[2].Args)
		}
	})

	t.Run("change counter survives the insert race", func(t *testing.T) {
		stub.take()
		updates := 0
		stub.script(func(q string, _ []any) (stubReply, bool) {
			switch {
			case strings.HasPrefix(q, `UPDATE "change_versions"`):
				updates++
				if updates == 1 {
					return stubReply{affected: 0}, true // no row yet
				}
			case strings.HasPrefix(q, `INSERT INTO "change_versions"`):
				// another server inserted it first
				return stubReply{err: mssql.Error{Number: 2627, Message: "Violation of PRIMARY KEY constraint"}}, true
			}
			return stubReply{}, false
		})
		if err := db.BumpVersion(ctx, "flows"); err != nil {
			t.Fatalf("BumpVersion after a lost insert race = %v", err)
		}
		ss := stub.take()
		lint(t, ss)
		expectSQL(t, ss,
			`UPDATE "change_versions" SET "updated_at"=@p1,"version"=version + 1 WHERE scope = @p2`,
			`INSERT INTO "change_versions" ("scope","version","updated_at") VALUES (@p1,@p2,@p3);`,
			`UPDATE "change_versions" SET "updated_at"=@p1,"version"=version + 1 WHERE scope = @p2`)
	})

	t.Run("read", func(t *testing.T) {
		stub.take()
		stored := "warn"
		stub.script(func(q string, _ []any) (stubReply, bool) {
			if strings.HasPrefix(q, `SELECT * FROM "settings"`) {
				return rows([]string{"key", "value"}, []driver.Value{store.SettingLogLevel, stored}), true
			}
			return stubReply{}, false
		})
		if v, err := db.SettingString(ctx, store.SettingLogLevel); err != nil || v != "warn" {
			t.Fatalf("SettingString = %q, %v", v, err)
		}
		stored = "loud"
		if v, err := db.SettingString(ctx, store.SettingLogLevel); err != nil || v != "info" {
			t.Fatalf("SettingString of a bad stored value = %q, %v; want the default", v, err)
		}
		ss := stub.take()
		lint(t, ss)
		want := `SELECT * FROM "settings" WHERE "key" = @p1 ORDER BY "key" OFFSET 0 ROW FETCH NEXT 1 ROWS ONLY`
		expectSQL(t, ss, want, want)
	})
}

// --- the booster lease and the clock ---

// noGoTime fails when a lease statement carries a time from the Go clock:
// every lease time must come from the database's.
func noGoTime(t *testing.T, ss []stubStmt) {
	t.Helper()
	for _, s := range ss {
		for _, a := range s.Args {
			if _, ok := a.(time.Time); ok {
				t.Errorf("lease statement sends a Go time: %s %v", s.SQL, s.Args)
			}
		}
		if strings.Contains(s.SQL, "DATEADD(millisecond, @p") {
			ms, ok := argAt(t, s, "DATEADD(millisecond, ").(int64)
			if !ok || ms < -(1<<31) || ms >= 1<<31 {
				t.Errorf("DATEADD amount %v is not an int", argAt(t, s, "DATEADD(millisecond, "))
			}
		}
	}
}

func TestSQLServerLease(t *testing.T) {
	ctx := context.Background()
	db, stub := openSQLServerStub(t)
	l := db.Lease(store.BoosterLeaseName)
	leaseCols := []string{"name", "holder", "epoch"}

	t.Run("take over an expired term", func(t *testing.T) {
		stub.take()
		stub.script(func(q string, args []any) (stubReply, bool) {
			if strings.HasPrefix(q, `SELECT * FROM "booster_leases"`) {
				return rows(leaseCols, []driver.Value{"booster", args[1], int64(8)}), true
			}
			return stubReply{}, false
		})
		epoch, won, err := l.Elect(ctx, "b1", 5*time.Second)
		if err != nil || !won || epoch != 8 {
			t.Fatalf("Elect = %d, %v, %v", epoch, won, err)
		}
		ss := stub.take()
		lint(t, ss)
		noGoTime(t, ss)
		expectSQL(t, ss, "BEGIN",
			`UPDATE "booster_leases" SET "elected_at"=SYSDATETIMEOFFSET(),"epoch"=epoch + 1,"expires_at"=DATEADD(millisecond, @p1, SYSDATETIMEOFFSET()),"holder"=@p2 WHERE name = @p3 AND expires_at < SYSDATETIMEOFFSET()`,
			`SELECT * FROM "booster_leases" WHERE name = @p1 AND holder = @p2 ORDER BY "name" OFFSET 0 ROW FETCH NEXT 1 ROWS ONLY`,
			"COMMIT")
		if ss[1].Args[0] != int64(5000) {
			t.Errorf("ttl argument %v, want 5000 ms", ss[1].Args[0])
		}
	})

	firstTerm := func(insert stubReply) func(q string, _ []any) (stubReply, bool) {
		return func(q string, _ []any) (stubReply, bool) {
			switch {
			case strings.HasPrefix(q, `UPDATE "booster_leases"`):
				return stubReply{affected: 0}, true
			case strings.HasPrefix(q, "SELECT count(*)"):
				return rows([]string{""}, []driver.Value{int64(0)}), true
			case strings.HasPrefix(q, `INSERT INTO "booster_leases"`):
				return insert, true
			}
			return stubReply{}, false
		}
	}
	t.Run("first term", func(t *testing.T) {
		stub.take()
		stub.script(firstTerm(stubReply{affected: 1}))
		epoch, won, err := l.Elect(ctx, "b1", 5*time.Second)
		if err != nil || !won || epoch != 1 {
			t.Fatalf("first Elect = %d, %v, %v", epoch, won, err)
		}
		ss := stub.take()
		lint(t, ss)
		noGoTime(t, ss)
		s := sent(ss)
		if len(s) != 3 || s[1].SQL != `SELECT count(*) FROM "booster_leases" WHERE name = @p1` ||
			s[2].SQL != `INSERT INTO "booster_leases" ("elected_at","epoch","expires_at","holder","name") VALUES (SYSDATETIMEOFFSET(),@p1,DATEADD(millisecond, @p2, SYSDATETIMEOFFSET()),@p3,@p4);` {
			t.Fatalf("first term statements:\n  %s", strings.Join(sqlOf(s), "\n  "))
		}
		// Another booster inserted first: a duplicate key (2601) is a
		// lost election, not an error.
		stub.script(firstTerm(stubReply{err: mssql.Error{Number: 2601, Message: "Cannot insert duplicate key row"}}))
		if epoch, won, err := l.Elect(ctx, "b2", 5*time.Second); err != nil || won || epoch != 0 {
			t.Fatalf("Elect losing the insert race = %d, %v, %v; want 0, false, nil", epoch, won, err)
		}
		stub.take()
	})

	t.Run("renew resign current", func(t *testing.T) {
		stub.take()
		t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		stub.script(func(q string, _ []any) (stubReply, bool) {
			if strings.HasPrefix(q, "SELECT holder") {
				return rows([]string{"holder", "epoch", "expires_at", "db_now"}, []driver.Value{"b1", int64(3), t0.Add(10 * time.Second), t0}), true
			}
			return stubReply{}, false
		})
		if ok, err := l.Renew(ctx, "b1", 3, 5*time.Second); err != nil || !ok {
			t.Fatalf("Renew = %v, %v", ok, err)
		}
		if err := l.Resign(ctx, "b1", 3); err != nil {
			t.Fatal(err)
		}
		holder, epoch, left, err := l.Current(ctx)
		if err != nil || holder != "b1" || epoch != 3 || left != 10*time.Second {
			t.Fatalf("Current = %q, %d, %v, %v", holder, epoch, left, err)
		}
		ss := stub.take()
		lint(t, ss)
		noGoTime(t, ss)
		expectSQL(t, ss,
			`UPDATE "booster_leases" SET "expires_at"=DATEADD(millisecond, @p1, SYSDATETIMEOFFSET()) WHERE (name = @p2 AND holder = @p3 AND epoch = @p4) AND expires_at >= SYSDATETIMEOFFSET()`,
			`UPDATE "booster_leases" SET "expires_at"=DATEADD(millisecond, @p1, SYSDATETIMEOFFSET()) WHERE name = @p2 AND holder = @p3 AND epoch = @p4`,
			`SELECT holder, epoch, expires_at, SYSDATETIMEOFFSET() AS db_now FROM "booster_leases" WHERE name = @p1 ORDER BY "name" OFFSET 0 ROW FETCH NEXT 1 ROWS ONLY`)
		if ss[1].Args[0] != int64(-1000) {
			t.Errorf("resign moves expiry by %v ms, want -1000", ss[1].Args[0])
		}
	})

	t.Run("database clock", func(t *testing.T) {
		stub.take()
		stub.script(func(q string, _ []any) (stubReply, bool) {
			if q == "SELECT SYSUTCDATETIME()" {
				return rows([]string{""}, []driver.Value{time.Now().UTC().Add(time.Hour)}), true
			}
			return stubReply{}, false
		})
		if err := db.SyncClock(ctx); err != nil {
			t.Fatal(err)
		}
		if off := db.ClockOffset(); off < 59*time.Minute || off > 61*time.Minute {
			t.Fatalf("clock offset %v, want about an hour", off)
		}
		ss := stub.take()
		lint(t, ss)
		expectSQL(t, ss, "SELECT SYSUTCDATETIME()")
	})
}

// TestTicketSearchIsLiteral runs on the engines that can run here: the
// search text escapes LIKE's wildcards, including "[" (a character class
// in SQL Server's LIKE; see escapeLike), and each engine must still match
// the text literally.
func TestTicketSearchIsLiteral(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, title := range []string{"a[b]c", "abc", "50%", "500", "x_y", "xay", "p!q", "pq"} {
			tk := &store.Ticket{FlowID: 1, FlowVersionID: 1, Version: 1, CreatorID: 1, Title: title, Fields: "{}", Vars: "{}", State: "{}"}
			if err := db.CreateTicket(ctx, tk, "t"); err != nil {
				t.Fatal(err)
			}
		}
		for text, want := range map[string]string{"[b]": "a[b]c", "50%": "50%", "x_y": "x_y", "!": "p!q", "b": "a[b]c abc"} {
			list, total, err := db.Tickets(ctx, store.TicketQuery{Text: text, Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tk := range list {
				got = append(got, tk.Title)
			}
			slices.Sort(got)
			if strings.Join(got, " ") != want || total != int64(len(got)) {
				t.Errorf("search %q found %q (total %d), want %q", text, got, total, want)
			}
		}
	})
}
