package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/yutang/yutang/domain/identity"
)

// staffCommand: staff add --role ROLE --username NAME [--store CODE], with the
// password read from standard input (never from arguments or a default).
func staffCommand(ctx context.Context, cfg Config, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return errors.New("usage: yutang staff add --role ROLE --username NAME [--store CODE] < password")
	}
	fs := flag.NewFlagSet("staff add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	role := fs.String("role", "", "admin | merchandiser | operator | store_manager | clerk")
	username := fs.String("username", "", "login name")
	store := fs.String("store", "", "store code (clerks and store managers)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	pw, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password: %w", err)
	}
	pw = strings.TrimRight(pw, "\r\n")
	return withApp(ctx, cfg, stderr, func(a *app) error {
		st, err := a.svc.Identity.AddStaff(ctx, *username, identity.Role(*role), *store, pw)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "staff %q created (id %d, role %s)\n", st.Username, st.ID, st.Role)
		return nil
	})
}
