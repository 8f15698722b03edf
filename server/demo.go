package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/storage"
)

// demoStaff are the demo accounts; their passwords are generated on first
// load and kept in var/demo-credentials.txt (mode 0600), never hard-coded.
var demoStaff = []struct {
	username string
	role     identity.Role
	store    string
}{
	{"admin", identity.RoleAdmin, ""},
	{"merch", identity.RoleMerchandiser, ""},
	{"ops", identity.RoleOperator, ""},
	{"clerk.xuhui", identity.RoleClerk, "SH-XUHUI"},
	{"clerk.jingan", identity.RoleClerk, "SH-JINGAN"},
}

// loadDemo loads the demo data, area by area in this order: stores and
// staff first (the attribution demo's clerk shares a link). It is
// idempotent: a second run changes nothing and keeps the credentials.
func (a *app) loadDemo(ctx context.Context, out io.Writer) error {
	for _, load := range []func(context.Context) error{
		a.loadDemoStaff,
		a.loadDemoCatalog,
		a.loadDemoAttribution,
		a.loadDemoPromotions,
	} {
		if err := load(ctx); err != nil {
			return err
		}
	}
	fmt.Fprintln(out, "demo data loaded")
	return nil
}

// loadDemoStaff creates the demo stores and, with their generated
// passwords, the demo staff accounts.
func (a *app) loadDemoStaff(ctx context.Context) error {
	if err := storage.LoadDemoStores(ctx, a.db); err != nil {
		return fmt.Errorf("demo: stores: %w", err)
	}
	creds, err := a.demoCredentials()
	if err != nil {
		return err
	}
	for _, s := range demoStaff {
		_, err := a.svc.Identity.AddStaff(ctx, s.username, s.role, s.store, creds[s.username])
		if err != nil && !isCode(err, "username_taken") {
			return fmt.Errorf("demo: staff %s: %w", s.username, err)
		}
	}
	return nil
}

func isCode(err error, code string) bool {
	de, ok := domain.AsError(err)
	return ok && de.Code == code
}

func (a *app) credentialsPath() string { return filepath.Join(a.cfg.DataDir, "demo-credentials.txt") }

// demoCredentials reads the demo passwords, generating them on first use.
func (a *app) demoCredentials() (map[string]string, error) {
	creds := map[string]string{}
	if b, err := os.ReadFile(a.credentialsPath()); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if u, p, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
				creds[u] = strings.TrimSpace(p)
			}
		}
	}
	changed := false
	for _, s := range demoStaff {
		if creds[s.username] == "" {
			var b [12]byte
			_, _ = rand.Read(b[:])
			creds[s.username] = base64.RawURLEncoding.EncodeToString(b[:])
			changed = true
		}
	}
	if changed {
		var sb strings.Builder
		for _, s := range demoStaff {
			fmt.Fprintf(&sb, "%s %s\n", s.username, creds[s.username])
		}
		if err := os.MkdirAll(a.cfg.DataDir, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(a.credentialsPath(), []byte(sb.String()), 0o600); err != nil {
			return nil, fmt.Errorf("demo: write credentials: %w", err)
		}
	}
	return creds, nil
}

func (a *app) printWelcome(w io.Writer, base string) {
	fmt.Fprintf(w, "\nyutang is listening on %s  (health: %s/healthz, API spec: %s/openapi.yaml)\n", base, base, base)
	fmt.Fprintf(w, "shopper sign-in (code2session stand-in, any code is a shopper):\n  curl -s -XPOST %s/api/v1/shop/session -H 'Content-Type: application/json' -d '{\"code\":\"alice\"}'\n", base)
	if a.cfg.Demo {
		if creds, err := a.demoCredentials(); err == nil {
			fmt.Fprintf(w, "staff sign-in (POST /api/v1/admin/session or /api/v1/clerk/session), demo accounts from %s:\n", a.credentialsPath())
			for _, s := range demoStaff {
				fmt.Fprintf(w, "  %-13s %-13s password %s\n", s.username, s.role, creds[s.username])
			}
		}
	} else {
		fmt.Fprintln(w, "staff: create accounts with `yutang staff add --role admin --username NAME` (password on stdin)")
	}
	fmt.Fprintln(w, "Ctrl-C stops the server and the PostgreSQL it started.")
}
