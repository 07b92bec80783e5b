package order

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tessera-saas/tessera/internal/platform/entityid"
)

// Status is where an order stands.
type Status string

// Order statuses.
const (
	StatusPending   Status = "pending"
	StatusConfirmed Status = "confirmed"
	StatusShipped   Status = "shipped"
	StatusDelivered Status = "delivered"
	StatusCancelled Status = "cancelled"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusConfirmed, StatusShipped, StatusDelivered, StatusCancelled:
		return true
	}
	return false
}

// Order is one order of a tenant's customer.
type Order struct {
	ID        string    `json:"id"`
	ProductID string    `json:"productId"`
	Quantity  int       `json:"quantity"`
	Customer  Customer  `json:"customer"`
	Status    Status    `json:"status"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Customer is the person who ordered. Both fields are sensitive, and both
// are required in a request body.
type Customer struct {
	Name  string `json:"name" required:"true"`
	Email string `json:"email" required:"true"`
}

// Input is what a client may set on an order. Fields tagged required must
// be present and not null in a request body (edge.DecodeJSON checks it);
// status may be left out (pending).
type Input struct {
	ProductID string    `json:"productId" required:"true"`
	Quantity  int       `json:"quantity" required:"true"`
	Customer  *Customer `json:"customer" required:"true"`
	Status    Status    `json:"status"`
}

// Limits on fields.
const (
	MaxQuantity = 1_000_000
	MaxNameLen  = 200
	MaxEmailLen = 254
)

// ErrInvalid wraps every validation failure; the message names the field.
var ErrInvalid = errors.New("invalid order")

// Validate checks an input and returns it normalized: status defaults to
// pending, names and emails are trimmed.
func (in Input) Validate() (Input, error) {
	if in.Status == "" {
		in.Status = StatusPending
	}
	switch {
	case !entityid.Valid(in.ProductID):
		return in, fmt.Errorf("%w: productId must be a product id", ErrInvalid)
	case in.Quantity <= 0 || in.Quantity > MaxQuantity:
		return in, fmt.Errorf("%w: quantity must be between 1 and %d", ErrInvalid, MaxQuantity)
	case in.Customer == nil:
		return in, fmt.Errorf("%w: customer is required", ErrInvalid)
	case !in.Status.Valid():
		return in, fmt.Errorf("%w: status must be one of pending, confirmed, shipped, delivered, cancelled", ErrInvalid)
	}
	c := Customer{Name: strings.TrimSpace(in.Customer.Name), Email: strings.TrimSpace(in.Customer.Email)}
	switch {
	case c.Name == "" || !utf8.ValidString(c.Name) || utf8.RuneCountInString(c.Name) > MaxNameLen:
		return in, fmt.Errorf("%w: customer.name is required, valid text of at most %d characters", ErrInvalid, MaxNameLen)
	case len(c.Email) > MaxEmailLen || !validEmail(c.Email):
		return in, fmt.Errorf("%w: customer.email must be an email address", ErrInvalid)
	}
	in.Customer = &c
	return in, nil
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}
