// Package storagetest gives each test its own fresh PostgreSQL database,
// cloned from a template migrated once per schema version (pgtestdb: CREATE
// DATABASE … TEMPLATE, tens of milliseconds). The server comes from
// TEST_DATABASE_URL, which `make test` sets after starting a throwaway
// cluster. A test never skips for lack of a database: it fails and says how
// to run it.
package storagetest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"testing"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the driver pgtestdb opens by name
	"github.com/peterldowns/pgtestdb"

	"github.com/yutang/yutang/migrations"
	"github.com/yutang/yutang/storage"
)

// NewDB returns a connection pool to a new, migrated, empty database that is
// dropped when the test ends.
func NewDB(t testing.TB) *sqlx.DB {
	t.Helper()
	db := pgtestdb.New(t, config(t), migrator{})
	return sqlx.NewDb(db, "postgres")
}

// NewURL is NewDB for code that opens its own pool (the server): it returns
// the new database's connection URL.
func NewURL(t testing.TB) string {
	t.Helper()
	return pgtestdb.Custom(t, config(t), migrator{}).URL()
}

func config(t testing.TB) pgtestdb.Config {
	t.Helper()
	raw := os.Getenv("TEST_DATABASE_URL")
	if raw == "" {
		t.Fatalf("TEST_DATABASE_URL is not set: run the tests with `make test`, which starts a throwaway PostgreSQL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	pw, _ := u.User.Password()
	db := u.Path
	if len(db) > 0 && db[0] == '/' {
		db = db[1:]
	}
	if db == "" {
		db = "postgres"
	}
	opts := u.Query()
	if opts.Get("sslmode") == "" {
		opts.Set("sslmode", "disable")
	}
	return pgtestdb.Config{
		DriverName:                "postgres",
		Host:                      u.Hostname(),
		Port:                      u.Port(),
		User:                      u.User.Username(),
		Password:                  pw,
		Database:                  db,
		Options:                   opts.Encode(),
		ForceTerminateConnections: true,
	}
}

// migrator applies the embedded migrations; its hash covers every file's
// name and content, so a changed migration gets a new template.
type migrator struct{}

func (migrator) Hash() (string, error) {
	h := sha256.New()
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := fs.ReadFile(migrations.FS, n)
		if err != nil {
			return "", err
		}
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func (migrator) Migrate(ctx context.Context, db *sql.DB, _ pgtestdb.Config) error {
	return storage.Migrate(ctx, db, nil)
}
