package storage_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"

	"github.com/yutang/yutang/storage"
	"github.com/yutang/yutang/storage/storagetest"
)

// Migrating an already migrated database from several goroutines at once is
// safe (the advisory lock serialises them) and changes nothing.
func TestMigrateConcurrentIsIdempotent(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- storage.Migrate(context.Background(), db.DB, nil)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no migration recorded")
	}
}

func TestInTxRollsBackOnError(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	err := storage.New(db).InTx(ctx, func(stx *storage.Tx) error {
		tx := stx.SQL()
		if _, err := tx.ExecContext(ctx, `INSERT INTO stores (code, name) VALUES ('S1', 'one')`); err != nil {
			return err
		}
		return sql.ErrTxDone // any error
	})
	if err == nil {
		t.Fatal("want the error back")
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM stores`); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("rolled-back insert is visible: %d rows", n)
	}
}

// must fails the test on an error (fixture set-up).
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
