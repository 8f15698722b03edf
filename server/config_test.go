package main

import (
	"strings"
	"testing"

	"github.com/yutang/yutang/domain/identity"
)

// Integer settings: unset is the default; out of range or not a number is
// reported by name, every problem at once.
func TestConfigIntegers(t *testing.T) {
	t.Parallel()
	load := func(env map[string]string) (Config, error) {
		return LoadConfig(func(k string) string { return env[k] })
	}
	c, err := load(map[string]string{})
	if err != nil || c.DBMaxConns != 20 || c.LowStock != 5 || c.TouchMonths != 13 {
		t.Fatalf("defaults %+v %v", c, err)
	}
	c, err = load(map[string]string{"YUTANG_DB_MAX_CONNS": "7", "YUTANG_LOW_STOCK": "0", "YUTANG_TOUCH_RETENTION_MONTHS": "4"})
	if err != nil || c.DBMaxConns != 7 || c.LowStock != 0 || c.TouchMonths != 4 {
		t.Fatalf("set %+v %v", c, err)
	}
	_, err = load(map[string]string{"YUTANG_DB_MAX_CONNS": "0", "YUTANG_LOW_STOCK": "x", "YUTANG_TOUCH_RETENTION_MONTHS": "3"})
	for _, want := range []string{"YUTANG_DB_MAX_CONNS: \"0\" is not an integer from 1 to 500", "YUTANG_LOW_STOCK: \"x\"",
		"YUTANG_TOUCH_RETENTION_MONTHS: \"3\" is not an integer from 4 to 120"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
}

// The password hash costs: strong by default, cheap or explicit when asked,
// anything else reported by name.
func TestConfigPasswordHash(t *testing.T) {
	t.Parallel()
	load := func(v string) (Config, error) {
		return LoadConfig(func(k string) string {
			if k == "YUTANG_PASSWORD_HASH" {
				return v
			}
			return ""
		})
	}
	for v, want := range map[string]identity.PasswordParams{
		"":                identity.StrongPasswordParams(),
		"strong":          identity.StrongPasswordParams(),
		"cheap":           identity.CheapPasswordParams(),
		"m=19456,t=2,p=1": {Time: 2, Memory: 19456, Threads: 1},
	} {
		c, err := load(v)
		if err != nil || c.PasswordParams != want {
			t.Errorf("%q: %+v %v, want %+v", v, c.PasswordParams, err, want)
		}
	}
	_, err := load("fast")
	if err == nil || !strings.Contains(err.Error(), `YUTANG_PASSWORD_HASH: "fast" is not strong, cheap`) {
		t.Errorf("fast: %v", err)
	}
}
