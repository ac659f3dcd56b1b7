// Command omflow-prof is the omflow binary with net/http/pprof added, for
// finding where a benchmark's time goes. It runs exactly what omflow runs
// (the same cli and roles packages) and, when OMFLOW_BENCH_PPROF names an
// address, serves /debug/pprof/ there. OMFLOW_BENCH_CONTENTION=1 also
// records mutex and blocking profiles. It is a tool of bench/, not a
// product binary.
//
//	go build -o /tmp/omflow-prof ./bench/cmd/omflow-prof
//	go run ./bench/cmd/omflow-bench -binary /tmp/omflow-prof -pprof 127.0.0.1:6060 -engines postgres -conc 32
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/omflow/omflow/cli"
	"github.com/omflow/omflow/roles"
)

func main() {
	if addr := os.Getenv("OMFLOW_BENCH_PPROF"); addr != "" {
		if os.Getenv("OMFLOW_BENCH_CONTENTION") == "1" {
			runtime.SetMutexProfileFraction(10)
			runtime.SetBlockProfileRate(100_000) // one sample per 100 µs blocked
		}
		go func() {
			if err := http.ListenAndServe(addr, nil); err != nil {
				slog.Error("pprof server", "addr", addr, "err", err)
			}
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := cli.NewApp(roles.Commands()).RunContext(ctx, os.Args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "omflow: %v\n", err)
	}
	os.Exit(cli.ExitCode(err))
}
