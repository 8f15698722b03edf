// Package storage is yutang's PostgreSQL adapter: all SQL lives here, through
// sqlx and lib/pq. Each area has its own file (catalog.go, orders.go …)
// implementing the Store interfaces its domain package declares. Methods run
// on sqlx.ExtContext so the same code serves the pool and a transaction.
package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/migrations"
)

// Open connects to PostgreSQL and sizes the pool. It does not wait for the
// server: readiness is reported by Ping (see /readyz).
func Open(dsn string, maxOpen int) (*sqlx.DB, error) {
	conn, err := newConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("storage: open: %w", err)
	}
	db := sqlx.NewDb(sql.OpenDB(conn), "postgres")
	if maxOpen <= 0 {
		maxOpen = 20
	}
	db.SetMaxOpenConns(maxOpen)
	db.SetMaxIdleConns(maxOpen)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(time.Hour)
	return db, nil
}

// WaitReady pings until the database answers or ctx ends.
func WaitReady(ctx context.Context, db *sqlx.DB) error {
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := db.PingContext(pctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("storage: wait for database: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// EnsureDatabase creates database name on the server adminDSN reaches,
// unless it exists (the private development cluster).
func EnsureDatabase(ctx context.Context, adminDSN, name string) error {
	db, err := Open(adminDSN, 1)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := WaitReady(ctx, db); err != nil {
		return err
	}
	var n int
	if err := db.GetContext(ctx, &n, `SELECT count(*) FROM pg_database WHERE datname = $1`, name); err != nil {
		return fmt.Errorf("storage: check database: %w", err)
	}
	if n == 0 {
		if _, err := db.ExecContext(ctx, `CREATE DATABASE `+pq.QuoteIdentifier(name)); err != nil {
			return fmt.Errorf("storage: create database: %w", err)
		}
	}
	return nil
}

// Migrate applies every pending migration. A PostgreSQL session advisory lock
// serialises concurrent callers, so several instances may start at once.
func Migrate(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	return migrateFS(ctx, db, migrations.FS, log)
}

func migrateFS(ctx context.Context, db *sql.DB, fsys fs.FS, log *slog.Logger) error {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("storage: migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("storage: migrate: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("storage: migrate: %w", err)
	}
	if log != nil {
		for _, r := range res {
			log.Info("migration applied", "source", r.Source.Path, "duration", r.Duration)
		}
	}
	return nil
}

// PostgreSQL error codes we map.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	pgCheckViolation      = "23514"
	pgSerialization       = "40001"
	pgDeadlock            = "40P01"
	pgLockNotAvailable    = "55P03"
	pgNumericOutOfRange   = "22003"
	pgDatetimeOverflow    = "22008"
	pgBadByteSequence     = "22021" // invalid UTF-8, or NUL, in text
	pgUntranslatable      = "22P05"
	pgTooManyConnections  = "53300"
	pgAdminShutdown       = "57P01"
	pgCrashShutdown       = "57P02"
	pgCannotConnectNow    = "57P03"
)

// mapErr maps driver errors once: no rows → not found, a unique violation →
// conflict, a broken connection → unavailable; the rest is returned wrapped
// as it is (an internal error).
func mapErr(err error) error {
	return mapErrNotFound(err, domain.ErrNotFound)
}

// mapErrNotFound is mapErr with the area's own not-found error.
func mapErrNotFound(err error, notFound *domain.Error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return notFound
	}
	var pqe *pq.Error
	if errors.As(err, &pqe) {
		switch string(pqe.Code) {
		case pgUniqueViolation:
			return &domain.Error{Kind: domain.KindConflict, Code: "already_exists",
				Message: "It already exists.", Err: err}
		case pgForeignKeyViolation:
			return &domain.Error{Kind: domain.KindInvalid, Code: "reference_not_found",
				Message: "It refers to something that does not exist.", Err: err}
		case pgSerialization, pgDeadlock, pgLockNotAvailable:
			return &domain.Error{Kind: domain.KindUnavailable, Code: "busy",
				Message: "The system is busy; try again.", Err: err}
		case pgNumericOutOfRange, pgDatetimeOverflow:
			// A safety net: the API bounds every number and date first.
			return &domain.Error{Kind: domain.KindInvalid, Code: "out_of_range",
				Message: "A number or date in the request is out of range.", Err: err}
		case pgBadByteSequence, pgUntranslatable:
			// A safety net: the API refuses NUL and invalid UTF-8 first.
			return &domain.Error{Kind: domain.KindInvalid, Code: "invalid_text",
				Message: "The request holds text that is not valid UTF-8 or has NUL characters.", Err: err}
		}
	}
	if isConnErr(err) {
		e := *domain.ErrDatabaseUnavailable
		e.Err = err
		return &e
	}
	if errors.Is(err, sql.ErrConnDone) || errors.Is(err, context.DeadlineExceeded) {
		return &domain.Error{Kind: domain.KindUnavailable, Code: "unavailable",
			Message: "The service is briefly unavailable; try again.", Err: err}
	}
	return err
}

// isConnErr reports whether err says PostgreSQL cannot be reached or dropped
// the connection: refused or reset connections, a server shutting down or
// starting up, too many connections, any FATAL error (it ends the session: a
// database not accepting connections, say).
func isConnErr(err error) bool {
	var pqe *pq.Error
	if errors.As(err, &pqe) {
		switch c := string(pqe.Code); {
		case pqe.Severity == pq.Efatal, strings.HasPrefix(c, "08"), c == pgTooManyConnections, c == pgAdminShutdown,
			c == pgCrashShutdown, c == pgCannotConnectNow:
			return true
		}
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// IsUnavailable reports whether err means the database cannot be reached
// (mapped or not), for callers that answer for the whole process.
func IsUnavailable(err error) bool {
	return errors.Is(err, domain.ErrDatabaseUnavailable) || isConnErr(err)
}

// isUnique reports whether err is a unique violation (optionally of constraint).
func isUnique(err error, constraint string) bool {
	var pqe *pq.Error
	if errors.As(err, &pqe) && string(pqe.Code) == pgUniqueViolation {
		return constraint == "" || pqe.Constraint == constraint
	}
	return false
}

// isCheck reports whether err is a CHECK violation (optionally of constraint).
func isCheck(err error, constraint string) bool {
	var pqe *pq.Error
	if errors.As(err, &pqe) && string(pqe.Code) == pgCheckViolation {
		return constraint == "" || pqe.Constraint == constraint
	}
	return false
}

// idBefore reads the cursor of a list paged newest first by id: the id
// below which the next page starts ("" is the first page).
func idBefore(cursor string) (int64, error) {
	if cursor == "" {
		return 1<<63 - 1, nil
	}
	return idAfter(cursor)
}

// idAfter reads the cursor of a list paged oldest first by id: the id
// after which the next page starts ("" is the first page, 0).
func idAfter(cursor string) (int64, error) {
	if cursor == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(cursor, 10, 64)
	if err != nil || n <= 0 {
		return 0, domain.ErrBadCursor
	}
	return n, nil
}

// keyCursor is the position after the last row of a page of a list in
// (key, id) order (keyset paging: the catalog's sorts, the order search by
// time placed); a time key is in microseconds since the epoch, as
// PostgreSQL keeps it.
type keyCursor struct {
	Key int64
	ID  int64
}

func encodeKeyCursor(c keyCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.Key, 10) + "." + strconv.FormatInt(c.ID, 10)))
}

// decodeKeyCursor reads a keyCursor ("" is the first page, the zero
// cursor).
func decodeKeyCursor(s string) (keyCursor, error) {
	if s == "" {
		return keyCursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return keyCursor{}, domain.ErrBadCursor
	}
	k, id, ok := strings.Cut(string(b), ".")
	if !ok {
		return keyCursor{}, domain.ErrBadCursor
	}
	key, err1 := strconv.ParseInt(k, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil || n <= 0 {
		return keyCursor{}, domain.ErrBadCursor
	}
	return keyCursor{Key: key, ID: n}, nil
}

// pageOf cuts rows read with limit+1 (see idBefore, idAfter) to the page
// and returns the cursor of the next one: id of the page's last row (index
// limit-1 of rows), "" when this is the last page.
func pageOf[T any](rows []T, limit int, id func(i int) int64) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	return rows[:limit], strconv.FormatInt(id(limit-1), 10)
}
