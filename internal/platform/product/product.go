package product

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Product is one item a tenant sells.
type Product struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	SKU         string    `json:"sku"`
	Price       Price     `json:"price"`
	Description string    `json:"description"`
	Version     int64     `json:"version"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// Price is an amount in the currency's minor unit (cents for EUR). Both
// fields are required in a request body: an amount of 0 (a free product)
// must be explicit, never the default of a missing field.
type Price struct {
	Amount   int64  `json:"amount" required:"true"`
	Currency string `json:"currency" required:"true"`
}

// Input is what a client may set on a product. Fields tagged required must
// be present and not null in a request body (edge.DecodeJSON checks it);
// description may be left out (empty).
type Input struct {
	Name        string `json:"name" required:"true"`
	SKU         string `json:"sku" required:"true"`
	Price       *Price `json:"price" required:"true"`
	Description string `json:"description"`
}

// Limits on fields.
const (
	MaxNameLen        = 200
	MaxDescriptionLen = 4000
	MaxAmount         = 1_000_000_000_00 // one billion major units
)

// ErrInvalid wraps every validation failure; the message names the field.
var ErrInvalid = errors.New("invalid product")

var skuPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// SKUKey is the normalised form of a SKU under which SKUs are unique within
// a tenant regardless of case: "ABC-1" and "abc-1" are one SKU. SKUs are
// ASCII (the pattern above), so lower-casing is the whole rule.
func SKUKey(sku string) string { return strings.ToLower(sku) }

// Validate checks an input and returns it normalized (names trimmed).
func (in Input) Validate() (Input, error) {
	in.Name = strings.TrimSpace(in.Name)
	switch {
	case in.Name == "":
		return in, fmt.Errorf("%w: name is required", ErrInvalid)
	case !utf8.ValidString(in.Name) || utf8.RuneCountInString(in.Name) > MaxNameLen:
		return in, fmt.Errorf("%w: name must be valid text of at most %d characters", ErrInvalid, MaxNameLen)
	case !skuPattern.MatchString(in.SKU):
		return in, fmt.Errorf("%w: sku must be 1-64 letters, digits, '.', '_' or '-'", ErrInvalid)
	case in.Price == nil:
		return in, fmt.Errorf("%w: price is required", ErrInvalid)
	case in.Price.Amount < 0 || in.Price.Amount > MaxAmount:
		return in, fmt.Errorf("%w: price.amount must be between 0 and %d minor units", ErrInvalid, int64(MaxAmount))
	case !ValidCurrency(in.Price.Currency):
		return in, fmt.Errorf("%w: price.currency must be an ISO 4217 code such as EUR", ErrInvalid)
	case !utf8.ValidString(in.Description) || utf8.RuneCountInString(in.Description) > MaxDescriptionLen:
		return in, fmt.Errorf("%w: description must be valid text of at most %d characters", ErrInvalid, MaxDescriptionLen)
	}
	return in, nil
}
