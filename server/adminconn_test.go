package main

import (
	"os"
	"testing"

	"github.com/jmoiron/sqlx"
)

// adminConn connects to the test server's maintenance database.
func adminConn(t *testing.T) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open("postgres", os.Getenv("TEST_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
