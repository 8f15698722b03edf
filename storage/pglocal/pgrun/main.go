// Command pgrun runs a command with a throwaway PostgreSQL cluster: it starts
// one in a temporary directory, runs the command with TEST_DATABASE_URL set to
// it, stops and removes the cluster, and exits with the command's status. When
// TEST_DATABASE_URL is already set it just runs the command. `make test` uses
// it: go run ./storage/pglocal/pgrun -- go test -race -count=1 ./...
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/yutang/yutang/storage/pglocal"
)

func main() {
	os.Exit(run())
}

func run() int {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: pgrun -- COMMAND [ARGS…]")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	env := os.Environ()
	if os.Getenv("TEST_DATABASE_URL") == "" {
		dir, err := os.MkdirTemp("", "yutang-testpg-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "pgrun:", err)
			return 1
		}
		_ = os.Chmod(dir, 0o755)
		defer os.RemoveAll(dir)
		c, err := pglocal.Start(ctx, pglocal.Options{Dir: dir, Throwaway: true, Log: os.Stderr})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer func() {
			if err := c.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
			_ = os.RemoveAll(c.Dir)
		}()
		env = append(env, "TEST_DATABASE_URL="+c.URL("postgres"))
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = env
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ee.ExitCode() < 0 {
			return 1
		}
		return ee.ExitCode()
	default:
		fmt.Fprintln(os.Stderr, "pgrun:", err)
		return 1
	}
}
