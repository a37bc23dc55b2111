// Command pdm is the platform's server: `pdm serve` runs ingest, rules,
// prediction, the scheduler and the REST API; `pdm migrate` applies the
// PostgreSQL schema; `pdm demo` runs a seeded demo site with a simulated
// fleet. See README.md and docs/contract.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/gin-gonic/gin"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	gin.SetMode(gin.ReleaseMode) // gin's one global, set once here
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "pdm: %v\n", err)
		os.Exit(1)
	}
}

const usage = `usage: pdm <command> [flags]

commands:
  serve     run ingest, rules, prediction, scheduler and the REST API
  migrate   apply the PostgreSQL schema and exit
  demo      seed a demo site and run serve with a simulated fleet
  version   print the version

Run 'pdm <command> -h' for the command's flags.
`

// run is the whole program; tests call it with their own arguments,
// environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		cfg, err := parseConfig("serve", rest, getenv, stderr)
		if err != nil {
			return err
		}
		if cfg.GCPercent > 0 && getenv("GOGC") == "" {
			// A process-wide setting, so it is made here, for the
			// process pdm serve runs in, not in serve (which tests
			// call in their own process).
			debug.SetGCPercent(cfg.GCPercent)
		}
		return serve(ctx, cfg, stdout, stderr, nil)
	case "migrate":
		cfg, err := parseConfig("migrate", rest, getenv, stderr)
		if err != nil {
			return err
		}
		return migrate(ctx, cfg, stderr)
	case "demo":
		cfg, err := parseConfig("demo", rest, getenv, stderr)
		if err != nil {
			return err
		}
		return demo(ctx, cfg, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "pdm", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}
