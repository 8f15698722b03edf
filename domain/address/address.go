// Package address keeps a shopper's delivery addresses, one of them the
// default. Orders keep a snapshot, so editing or deleting an address never
// changes an order.
package address

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/yutang/yutang/domain"
)

// Address is a delivery address.
type Address struct {
	ID        int64
	ShopperID int64
	Name      string
	Phone     string
	Province  string
	City      string
	District  string
	Detail    string
	IsDefault bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Patch changes some fields of an address (nil: keep).
type Patch struct {
	Name, Phone, Province, City, District, Detail *string
	IsDefault                                     *bool
}

// Store is what addresses need from the database. Create and Update, when
// the address is (or becomes) the default, clear the previous default in
// the same transaction; Create makes the shopper's first address the
// default.
type Store interface {
	ListAddresses(ctx context.Context, shopperID int64) ([]Address, error)
	CountAddresses(ctx context.Context, shopperID int64) (int, error)
	CreateAddress(ctx context.Context, a Address) (Address, error)
	GetAddress(ctx context.Context, shopperID, id int64) (Address, error)
	UpdateAddress(ctx context.Context, a Address) (Address, error)
	DeleteAddress(ctx context.Context, shopperID, id int64, at time.Time) error
}

// MaxPerShopper is how many live addresses a shopper may keep.
const MaxPerShopper = 30

// Errors of addresses.
var (
	ErrNotFound = domain.E(domain.KindNotFound, "address_not_found", "No such address.")
	ErrTooMany  = domain.E(domain.KindConflict, "too_many_addresses", "You have too many addresses; delete one first.")
)

// Service is the address book.
type Service struct {
	Store Store
	Now   func() time.Time
}

func (s *Service) now() time.Time { return domain.Clock(s.Now).Now() }

var phoneRe = regexp.MustCompile(`^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$`)

// Validate checks an address's fields.
func (a Address) Validate() error {
	var fe []domain.FieldError
	text := func(field, v string, min, max int) {
		if n := utf8.RuneCountInString(v); n < min || n > max {
			fe = append(fe, domain.FieldError{Field: field, Code: "length", Message: fmt.Sprintf("must have %d to %d characters", min, max)})
		}
	}
	text("name", a.Name, 1, 50)
	text("province", a.Province, 1, 50)
	text("city", a.City, 1, 50)
	text("district", a.District, 0, 50)
	text("detail", a.Detail, 1, 200)
	if !phoneRe.MatchString(a.Phone) {
		fe = append(fe, domain.FieldError{Field: "phone", Code: "format", Message: "must be a mainland mobile (11 digits) or landline number"})
	}
	if len(fe) > 0 {
		return domain.Invalid(fe...)
	}
	return nil
}

func trim(a Address) Address {
	for _, p := range []*string{&a.Name, &a.Phone, &a.Province, &a.City, &a.District, &a.Detail} {
		*p = strings.TrimSpace(*p)
	}
	return a
}

// List returns the shopper's addresses, the default first.
func (s *Service) List(ctx context.Context, shopperID int64) ([]Address, error) {
	return s.Store.ListAddresses(ctx, shopperID)
}

// Get returns one of the shopper's addresses.
func (s *Service) Get(ctx context.Context, shopperID, id int64) (Address, error) {
	return s.Store.GetAddress(ctx, shopperID, id)
}

// Create adds an address.
func (s *Service) Create(ctx context.Context, a Address) (Address, error) {
	a = trim(a)
	if err := a.Validate(); err != nil {
		return Address{}, err
	}
	n, err := s.Store.CountAddresses(ctx, a.ShopperID)
	if err != nil {
		return Address{}, fmt.Errorf("address: create: %w", err)
	}
	if n >= MaxPerShopper {
		return Address{}, ErrTooMany
	}
	a.CreatedAt, a.UpdatedAt = s.now(), s.now()
	return s.Store.CreateAddress(ctx, a)
}

// Update changes an address.
func (s *Service) Update(ctx context.Context, shopperID, id int64, p Patch) (Address, error) {
	a, err := s.Store.GetAddress(ctx, shopperID, id)
	if err != nil {
		return Address{}, err
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&a.Name, p.Name)
	set(&a.Phone, p.Phone)
	set(&a.Province, p.Province)
	set(&a.City, p.City)
	set(&a.District, p.District)
	set(&a.Detail, p.Detail)
	if p.IsDefault != nil {
		a.IsDefault = *p.IsDefault
	}
	a = trim(a)
	if err := a.Validate(); err != nil {
		return Address{}, err
	}
	a.UpdatedAt = s.now()
	return s.Store.UpdateAddress(ctx, a)
}

// Delete deletes an address (softly: orders keep their snapshot).
func (s *Service) Delete(ctx context.Context, shopperID, id int64) error {
	return s.Store.DeleteAddress(ctx, shopperID, id, s.now())
}
