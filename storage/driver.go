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
	dsn, err := oneRoundTrip(dsn)
	if err != nil {
		return nil, err
	}
	c, err := pq.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return textConnector{c}, nil
}

func oneRoundTrip(dsn string) (string, error) {
	if strings.Contains(dsn, "binary_parameters") {
		return dsn, nil
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", err
		}
		q := u.Query()
		q.Set("binary_parameters", "yes")
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return strings.TrimSpace(dsn + " binary_parameters=yes"), nil
}

type textConnector struct{ c *pq.Connector }

func (t textConnector) Driver() driver.Driver { return t.c.Driver() }

func (t textConnector) Connect(ctx context.Context) (driver.Conn, error) {
	cn, err := t.c.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return textConn{cn.(pqConn)}, nil
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

type textConn struct{ pqConn }

func (c textConn) CheckNamedValue(nv *driver.NamedValue) error {
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
