// Package store is the brand's physical stores (门店): where clerks work,
// pickup orders are handed over and in-store orders are taken. A store here
// is a shop, not persistence: what the package needs from the database is
// its Storage interface.
package store

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/yutang/yutang/domain"
)

// Status says whether a store is trading.
type Status string

const (
	Open   Status = "open"
	Closed Status = "closed"
)

// Store is one physical store.
type Store struct {
	ID           int64
	Code         string // short, stable: SH-XUHUI
	Name         string
	Address      string
	Latitude     *float64
	Longitude    *float64
	OpeningHours string // "10:00-22:00"
	Phone        string
	Status       Status
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Patch changes some fields of a store; nil fields stay.
type Patch struct {
	Name         *string
	Address      *string
	Latitude     **float64
	Longitude    **float64
	OpeningHours *string
	Phone        *string
	Status       *Status
}

// Apply returns s with the patch applied.
func (p Patch) Apply(s Store) Store {
	if p.Name != nil {
		s.Name = *p.Name
	}
	if p.Address != nil {
		s.Address = *p.Address
	}
	if p.Latitude != nil {
		s.Latitude = *p.Latitude
	}
	if p.Longitude != nil {
		s.Longitude = *p.Longitude
	}
	if p.OpeningHours != nil {
		s.OpeningHours = *p.OpeningHours
	}
	if p.Phone != nil {
		s.Phone = *p.Phone
	}
	if p.Status != nil {
		s.Status = *p.Status
	}
	return s
}

// Errors.
var (
	ErrNotFound  = domain.E(domain.KindNotFound, "store_not_found", "No such store.")
	ErrCodeTaken = domain.E(domain.KindConflict, "store_code_taken", "Another store already has this code.")
	ErrInUse     = domain.E(domain.KindConflict, "store_in_use", "Staff or orders belong to this store; close it instead of deleting it.")
)

var (
	codeRe  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
	hoursRe = regexp.MustCompile(`^([01]\d|2[0-4]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$`)
)

// Validate checks a store's fields by their wire names.
func Validate(s Store) []domain.FieldError {
	var fs []domain.FieldError
	f := func(name, code, msg string) {
		fs = append(fs, domain.FieldError{Field: name, Code: code, Message: msg})
	}
	if !codeRe.MatchString(s.Code) {
		f("code", "format", "must be 1 to 32 characters of A-Z a-z 0-9 _ -")
	}
	if n := utf8.RuneCountInString(s.Name); n == 0 || n > 100 {
		f("name", "format", "must have 1 to 100 characters")
	}
	if utf8.RuneCountInString(s.Address) > 200 {
		f("address", "max", "must have at most 200 characters")
	}
	if (s.Latitude == nil) != (s.Longitude == nil) {
		f("latitude", "pair", "latitude and longitude go together")
	}
	if s.Latitude != nil && (*s.Latitude < -90 || *s.Latitude > 90) {
		f("latitude", "range", "must be from -90 to 90")
	}
	if s.Longitude != nil && (*s.Longitude < -180 || *s.Longitude > 180) {
		f("longitude", "range", "must be from -180 to 180")
	}
	if s.OpeningHours != "" && !hoursRe.MatchString(s.OpeningHours) {
		f("opening_hours", "format", "must look like 10:00-22:00")
	}
	if len(s.Phone) > 20 {
		f("phone", "max", "must have at most 20 characters")
	}
	if s.Status != Open && s.Status != Closed {
		f("status", "oneof", "must be one of: open closed")
	}
	return fs
}

// Storage is what stores need from the database.
type Storage interface {
	InTx(ctx context.Context, fn func(tx Storage) error) error
	Audit(ctx context.Context, e domain.AuditEntry) error
	List(ctx context.Context, page domain.Page) ([]Store, string, error)
	Get(ctx context.Context, id int64, forUpdate bool) (Store, error)
	Create(ctx context.Context, s Store, at time.Time) (Store, error) // ErrCodeTaken
	Update(ctx context.Context, s Store, at time.Time) (Store, error)
	Delete(ctx context.Context, id int64) error // ErrInUse
}

// Service holds the stores' use cases.
type Service struct {
	Storage Storage
	Now     func() time.Time
}

func (s *Service) now() time.Time { return domain.Clock(s.Now).Now() }

func normalize(st *Store) {
	st.Code = strings.TrimSpace(st.Code)
	st.Name = strings.TrimSpace(st.Name)
	st.Address = strings.TrimSpace(st.Address)
	st.OpeningHours = strings.TrimSpace(st.OpeningHours)
	st.Phone = strings.TrimSpace(st.Phone)
}

func entry(actor domain.Actor, action string, id int64, before, after any, at time.Time) domain.AuditEntry {
	return domain.AuditEntry{Actor: actor, Action: action, Entity: "store", EntityID: strconv.FormatInt(id, 10),
		Before: before, After: after, At: at}
}

// List returns a page of stores by id.
func (s *Service) List(ctx context.Context, page domain.Page) ([]Store, string, error) {
	page.Limit = domain.BoundLimit(page.Limit)
	return s.Storage.List(ctx, page)
}

// Get returns one store.
func (s *Service) Get(ctx context.Context, id int64) (Store, error) {
	return s.Storage.Get(ctx, id, false)
}

// Create adds a store (open unless said otherwise).
func (s *Service) Create(ctx context.Context, actor domain.Actor, st Store) (Store, error) {
	if st.Status == "" {
		st.Status = Open
	}
	normalize(&st)
	if fs := Validate(st); len(fs) > 0 {
		return Store{}, domain.Invalid(fs...)
	}
	at := s.now()
	var out Store
	err := s.Storage.InTx(ctx, func(tx Storage) error {
		var err error
		if out, err = tx.Create(ctx, st, at); err != nil {
			return err
		}
		return tx.Audit(ctx, entry(actor, "store.create", out.ID, nil, out, at))
	})
	return out, err
}

// Update changes a store; its code never changes (it is printed on QR codes).
func (s *Service) Update(ctx context.Context, actor domain.Actor, id int64, p Patch) (Store, error) {
	at := s.now()
	var out Store
	err := s.Storage.InTx(ctx, func(tx Storage) error {
		before, err := tx.Get(ctx, id, true)
		if err != nil {
			return err
		}
		st := p.Apply(before)
		normalize(&st)
		if fs := Validate(st); len(fs) > 0 {
			return domain.Invalid(fs...)
		}
		if out, err = tx.Update(ctx, st, at); err != nil {
			return err
		}
		return tx.Audit(ctx, entry(actor, "store.update", id, before, out, at))
	})
	return out, err
}

// Delete removes a store nobody refers to.
func (s *Service) Delete(ctx context.Context, actor domain.Actor, id int64) error {
	at := s.now()
	return s.Storage.InTx(ctx, func(tx Storage) error {
		before, err := tx.Get(ctx, id, true)
		if err != nil {
			return err
		}
		if err := tx.Delete(ctx, id); err != nil {
			return err
		}
		return tx.Audit(ctx, entry(actor, "store.delete", id, before, nil, at))
	})
}
