package storage

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/lib/pq"
)

// Bytea marks an argument for a bytea column (a token or code hash). Every
// other []byte argument is text (JSON documents): see newConnector.
type Bytea []byte

// newConnector is lib/pq with binary_parameters on (unless the DSN says
// otherwise): a query with arguments then goes as Parse, Bind and Execute
// in one message, one round trip to PostgreSQL instead of two (lib/pq
// otherwise waits for the statement's description before binding). On a
// checkout that is some seventy round trips fewer.
//
// In that mode lib/pq sends []byte arguments in binary format, which suits
// bytea but not jsonb (binary jsonb starts with a version byte). The
// connections it makes therefore send []byte and json.RawMessage as text,
// and only Bytea as bytes.
func newConnector(dsn string) (driver.Connector, error) {
	dsn, err := connParams(dsn)
	if err != nil {
		return nil, err
	}
	c, err := pq.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return textConnector{c}, nil
}

// connParams adds to the DSN, unless it sets them itself:
// binary_parameters=yes (above) and plan_cache_mode=force_generic_plan. The
// latter makes PostgreSQL plan each prepared statement (QueryContext below)
// once per connection instead of re-planning it at every execution while it
// weighs custom plans: the program's statements are keyed lookups, inserts
// and updates whose plan does not depend on the values. Measured on the
// checkout loop: 19 ms of planning per order with prepared statements on
// PostgreSQL's default (auto), none with generic plans; 26.6 → 41.1
// orders/s on the same busy machine.
// And jit=off: a generic plan cannot see a report's page size or period, so
// its cost estimate grows with the tables; at 10M touches the KOC report of
// the last 30 days was estimated at 10M cost units, past every JIT
// threshold, and took 720-870 ms, 349 ms of it compiling (inlining,
// optimization, emission), against 281 ms without. No statement of the
// program runs long enough to repay compiling.
// And work_mem=16MB: a report's per-touchpoint sums at 50,000 KOCs need
// ~8 MB of hash table, past the default's (4 MB, times hash_mem_multiplier
// 2): spilled to disk in batches, the KOC report of the last 30 days at 10M
// touches took 130–140 ms, in memory 100–107 ms. It bounds each sort or hash
// of a statement; the program's other statements use far less.
func connParams(dsn string) (string, error) {
	params := [][2]string{{"binary_parameters", "yes"}, {"plan_cache_mode", "force_generic_plan"}, {"jit", "off"}, {"work_mem", "16MB"}}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", err
		}
		q := u.Query()
		for _, p := range params {
			if !q.Has(p[0]) {
				q.Set(p[0], p[1])
			}
		}
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	for _, p := range params {
		if !strings.Contains(dsn, p[0]) {
			dsn = strings.TrimSpace(dsn + " " + p[0] + "=" + p[1])
		}
	}
	return dsn, nil
}

type textConnector struct{ c *pq.Connector }

func (t textConnector) Driver() driver.Driver { return t.c.Driver() }

func (t textConnector) Connect(ctx context.Context) (driver.Conn, error) {
	cn, err := t.c.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &textConn{pqConn: cn.(pqConn), stmts: map[string]driver.Stmt{}}, nil
}

// pqConn is what lib/pq's connection offers database/sql; textConn keeps
// all of it and changes only how arguments are checked.
type pqConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.QueryerContext
	driver.ExecerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

type textConn struct {
	pqConn
	stmts map[string]driver.Stmt // prepared on this connection, by query text
}

// maxStmts bounds the statements prepared on one connection (the program
// has a few hundred queries; a query built with varying text would
// otherwise grow the cache without end).
const maxStmts = 1000

// QueryContext and ExecContext run a query with arguments as a statement
// prepared once on the connection, PostgreSQL planning it once (a generic
// plan after its first executions) instead of at every execution: a
// checkout's 78 statements spent more time being planned than executed
// (pg_stat_statements: 31 ms of planning per order, 15 ms executing).
// Queries without arguments keep the simple protocol (BEGIN, SET LOCAL …).
func (c *textConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) == 0 {
		return c.pqConn.QueryContext(ctx, query, args)
	}
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.(driver.StmtQueryContext).QueryContext(ctx, args)
}

func (c *textConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) == 0 {
		return c.pqConn.ExecContext(ctx, query, args)
	}
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *textConn) stmt(ctx context.Context, query string) (driver.Stmt, error) {
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	st, err := c.pqConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if len(c.stmts) >= maxStmts {
		for q, old := range c.stmts {
			_ = old.Close()
			delete(c.stmts, q)
		}
	}
	c.stmts[query] = st
	return st, nil
}

func (c *textConn) CheckNamedValue(nv *driver.NamedValue) error {
	switch v := nv.Value.(type) {
	case Bytea:
		nv.Value = []byte(v)
		return nil
	case []byte:
		nv.Value = textOrNull(v)
		return nil
	case json.RawMessage:
		nv.Value = textOrNull(v)
		return nil
	}
	return c.pqConn.CheckNamedValue(nv)
}

func textOrNull(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}
