// Command yutang is the mall: `serve` (the default) starts the HTTP API, the
// workers and, when DATABASE_URL is not set, a private PostgreSQL under
// ./var/pg; `migrate`, `staff add`, `demo` and `check` are the operator's
// subcommands.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "yutang:", err)
		os.Exit(1)
	}
}

const usage = `usage: yutang [serve | wxpaysim | migrate | demo | check | staff add --role ROLE --username NAME [--store CODE]]
  serve       start the mall (the default)
  wxpaysim    run the WeChat Pay simulator on its own (development; YUTANG_WXPAYSIM_ADDR, YUTANG_WXPAYSIM_DIR)
  migrate     apply database migrations and exit
  demo        load the demo data (idempotent) and exit
  check       verify every ledger and invariant; non-zero exit on any breach
  staff add   create a staff account; the password is read from standard input`

// Run is the program, with its environment passed in so tests can run it.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, stdout, stderr)
	case "wxpaysim":
		return wxpaysimCommand(ctx, cfg, stdout, stderr)
	case "migrate":
		return withApp(ctx, cfg, stderr, func(a *app) error { return nil })
	case "demo":
		return withApp(ctx, cfg, stderr, func(a *app) error { return a.loadDemo(ctx, stdout) })
	case "check":
		return withApp(ctx, cfg, stderr, func(a *app) error { return a.check(ctx, stdout) })
	case "staff":
		return staffCommand(ctx, cfg, args, stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}
