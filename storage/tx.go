package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain/order"
)

// DB is the database: the pool, every area's store on it, and the one way
// to run a transaction (InTx). The program builds one with New and, while
// wiring, subscribes the areas' handlers to Lifecycle.
type DB struct {
	x *sqlx.DB
	// Lifecycle runs the handlers of an order's moments inside the
	// transaction that raises them (see order.Lifecycle).
	Lifecycle order.Lifecycle[*Tx]
	// SignedIn runs when an anonymous visitor signs in as a shopper, inside
	// the sign-in transaction (see identity.SignedIn).
	SignedIn SignInHandlers
	// RefundSettled runs when a refund ends, inside the transaction that
	// applies WeChat Pay's answer (see cashier.RefundSettled).
	RefundSettled RefundSettledHandlers
}

// New wraps an open pool (see Open).
func New(x *sqlx.DB) *DB { return &DB{x: x} }

// SQL is the pool, for what is not an area's store (migrations, checks).
func (d *DB) SQL() *sqlx.DB { return d.x }

// Tx is one transaction. Every area's store is taken from it the same way
// (tx.Orders(), tx.Payments(), tx.Attribution() …) and runs in it; a Tx is
// only valid inside the function given to InTx.
type Tx struct {
	db *DB
	x  *sqlx.Tx
}

// InTx runs fn in a transaction: begin, fn, commit; rollback when fn fails
// or panics. fn must not keep tx after it returns.
func (d *DB) InTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	x, err := d.x.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("storage: begin: %w", mapErr(err))
	}
	defer func() {
		if p := recover(); p != nil {
			_ = x.Rollback()
			panic(p)
		}
		if err != nil {
			_ = x.Rollback()
		}
	}()
	if err = fn(&Tx{db: d, x: x}); err != nil {
		return err
	}
	if err = x.Commit(); err != nil {
		return fmt.Errorf("storage: commit: %w", mapErr(err))
	}
	return nil
}

// SQL is the transaction itself, for tests and checks that need raw SQL.
func (t *Tx) SQL() *sqlx.Tx { return t.x }

// scope is where a store runs: on the pool (tx nil) or in one transaction.
// Every store embeds it, so they all open and join transactions, and raise
// events, the same way.
type scope struct {
	db *DB
	tx *Tx
}

func (d *DB) scope() scope { return scope{db: d} }
func (t *Tx) scope() scope { return scope{db: t.db, tx: t} }

// ext is what the store's queries run on.
func (s scope) ext() sqlx.ExtContext {
	if s.tx != nil {
		return s.tx.x
	}
	return s.db.x
}

// inTx runs fn in the store's transaction, or in a new one on the pool.
func (s scope) inTx(ctx context.Context, fn func(tx *Tx) error) error {
	if s.tx != nil {
		return fn(s.tx)
	}
	return s.db.InTx(ctx, fn)
}

// errNoTx: an event raised outside a transaction (a bug in a use case).
var errNoTx = errors.New("storage: event raised outside a transaction")

// Raise runs the handlers of an order's moment in the store's transaction.
func (s scope) Raise(ctx context.Context, e order.Event) error {
	if s.tx == nil {
		return errNoTx
	}
	return s.db.Lifecycle.Emit(ctx, s.tx, e)
}

// The areas' stores, on the pool and in a transaction.

func (d *DB) Orders() Orders           { return Orders{d.scope()} }
func (t *Tx) Orders() Orders           { return Orders{t.scope()} }
func (d *DB) Payments() Payments       { return Payments{d.scope()} }
func (t *Tx) Payments() Payments       { return Payments{t.scope()} }
func (d *DB) AfterSales() AfterSales   { return AfterSales{d.scope()} }
func (t *Tx) AfterSales() AfterSales   { return AfterSales{t.scope()} }
func (d *DB) Attribution() Attribution { return Attribution{d.scope()} }
func (t *Tx) Attribution() Attribution { return Attribution{t.scope()} }
func (d *DB) Catalog() Catalog         { return Catalog{d.scope()} }
func (t *Tx) Catalog() Catalog         { return Catalog{t.scope()} }
func (d *DB) Stores() Stores           { return Stores{d.scope()} }
func (t *Tx) Stores() Stores           { return Stores{t.scope()} }
func (d *DB) Carts() Carts             { return Carts{d.scope()} }
func (t *Tx) Carts() Carts             { return Carts{t.scope()} }
func (d *DB) Addresses() Addresses     { return Addresses{d.scope()} }
func (t *Tx) Addresses() Addresses     { return Addresses{t.scope()} }
func (d *DB) Identity() Identity       { return Identity{d.scope()} }
func (t *Tx) Identity() Identity       { return Identity{t.scope()} }
func (d *DB) Audit() Audit             { return Audit{d.scope()} }
func (t *Tx) Audit() Audit             { return Audit{t.scope()} }
func (d *DB) Members() Members         { return Members{d.scope()} }
func (t *Tx) Members() Members         { return Members{t.scope()} }
func (d *DB) Coupons() Coupons         { return Coupons{d.scope()} }
func (t *Tx) Coupons() Coupons         { return Coupons{t.scope()} }
func (d *DB) Campaigns() Campaigns     { return Campaigns{d.scope()} }
func (t *Tx) Campaigns() Campaigns     { return Campaigns{t.scope()} }
func (d *DB) KOCs() KOCs               { return KOCs{d.scope()} }
func (t *Tx) KOCs() KOCs               { return KOCs{t.scope()} }
