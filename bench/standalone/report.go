package standalone

import (
	"fmt"
	"github.com/omflow/omflow/bench/internal/pgwire"
	"sort"
	"strings"
	"time"
)

// engineLabel is how the report names a database.
func engineLabel(e string) string {
	switch e {
	case SQLite:
		return "SQLite"
	case Postgres:
		return "PostgreSQL"
	}
	return e
}

func ms(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func mib(b int64) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

func rate(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// perTicket divides a CPU time by the tickets filed.
func perTicket(d time.Duration, n int64) string {
	if n <= 0 || d <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)/float64(n))
}

// Table is the main results table in Markdown.
func Table(rs []Result) string {
	var b strings.Builder
	b.WriteString("| Database | Clients | Tickets | Filed/s | Advanced/s | Latency p50 | Latency p99 | Errors | Filed → task p50 / p99 | Peak RSS | Peak Go heap |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rs {
		errs := fmt.Sprint(r.Errors)
		if r.NotAdvanced > 0 || r.FailedJobs > 0 {
			errs += fmt.Sprintf(" (+%d not advanced, %d failed jobs)", r.NotAdvanced, r.FailedJobs)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %s | %s | %s | %s / %s | %s | %s |\n",
			engineLabel(r.Engine), r.Conc, r.Filed, rate(r.FiledPerSec()), rate(r.AdvancedPerSec()),
			ms(r.P50), ms(r.P99), errs, ms(r.Wait50), ms(r.Wait99), mib(r.PeakRSS), mib(r.PeakHeap))
	}
	return b.String()
}

// CPUTable says where the CPU time of each level went, per ticket.
func CPUTable(rs []Result) string {
	var b strings.Builder
	b.WriteString("| Database | Clients | omflow CPU/ticket | PostgreSQL backends CPU/ticket | load generator CPU/ticket | engine step mean | machine CPU busy | of it other work | load average (1 min) at start |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rs {
		db := "–"
		if r.Engine == Postgres {
			db = perTicket(r.DBCPU, r.Filed)
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %.0f %% | %.0f %% | %.2f |\n",
			engineLabel(r.Engine), r.Conc, perTicket(r.ServerCPU, r.Filed), db, perTicket(r.ClientCPU, r.Filed),
			ms(r.StepTime), r.MachineBusy*100, r.OtherBusy*100, r.Load1)
	}
	return b.String()
}

// Details are the extra numbers printed to the terminal: statements and
// row changes per ticket.
func Details(rs []Result) string {
	var b strings.Builder
	for _, r := range rs {
		if r.SQL == nil && len(r.Tables) == 0 {
			continue
		}
		n := float64(max(r.Filed, 1))
		fmt.Fprintf(&b, "\n%s, %d clients, %d tickets\n", engineLabel(r.Engine), r.Conc, r.Filed)
		if r.SQL != nil {
			fmt.Fprintf(&b, "  SQL per ticket: %.1f statements executed, %.1f round trips (Sync/Query), %.2f prepared (Parse), %.2f closed\n",
				float64(r.SQL.Executes)/n, float64(r.SQL.RoundTrips)/n, float64(r.SQL.Parses)/n, float64(r.SQL.Closes)/n)
			b.WriteString("  executed per ticket:\n")
			writeStatements(&b, r.SQL.Top, n)
			b.WriteString("  prepared per ticket:\n")
			writeStatements(&b, r.SQL.TopPrepared, n)
		}
		if len(r.Tables) > 0 {
			names := make([]string, 0, len(r.Tables))
			for k := range r.Tables {
				names = append(names, k)
			}
			sort.Strings(names)
			b.WriteString("  rows per ticket (pg_stat_user_tables): table ins upd (hot) del idx_scan seq_scan\n")
			for _, k := range names {
				t := r.Tables[k]
				fmt.Fprintf(&b, "  %-20s %5.2f %5.2f (%5.2f) %5.2f %6.2f %6.2f\n", k,
					float64(t.Inserted)/n, float64(t.Updated)/n, float64(t.HotUpdated)/n, float64(t.Deleted)/n,
					float64(t.IdxScan)/n, float64(t.SeqScan)/n)
			}
		}
	}
	return b.String()
}

func writeStatements(b *strings.Builder, ss []pgwire.StatementCount, n float64) {
	for _, s := range ss {
		q := s.SQL
		if len(q) > 150 {
			q = q[:150] + "…"
		}
		fmt.Fprintf(b, "  %6.2f  %s\n", float64(s.N)/n, q)
	}
}
