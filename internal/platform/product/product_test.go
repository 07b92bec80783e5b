package product_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/product"
)

func TestValidate(t *testing.T) {
	ok := product.Input{Name: " Anvil ", SKU: "ANV-1", Price: &product.Price{Amount: 1999, Currency: "EUR"}}
	tests := []struct {
		name    string
		mutate  func(*product.Input)
		wantErr string
	}{
		{"valid", func(*product.Input) {}, ""},
		{"empty name", func(in *product.Input) { in.Name = "  " }, "name is required"},
		{"long name", func(in *product.Input) { in.Name = strings.Repeat("x", 201) }, "name must be"},
		{"bad utf8 name", func(in *product.Input) { in.Name = "a\xffb" }, "name must be"},
		{"sku with hash", func(in *product.Input) { in.SKU = "A#1" }, "sku must be"},
		{"sku with star", func(in *product.Input) { in.SKU = "A*" }, "sku must be"},
		{"empty sku", func(in *product.Input) { in.SKU = "" }, "sku must be"},
		{"no price", func(in *product.Input) { in.Price = nil }, "price is required"},
		{"negative price", func(in *product.Input) { in.Price = &product.Price{Amount: -1, Currency: "EUR"} }, "price.amount"},
		{"unknown currency", func(in *product.Input) { in.Price = &product.Price{Amount: 1, Currency: "EUX"} }, "price.currency"},
		{"lowercase currency", func(in *product.Input) { in.Price = &product.Price{Amount: 1, Currency: "eur"} }, "price.currency"},
		{"long description", func(in *product.Input) { in.Description = strings.Repeat("d", 4001) }, "description"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := ok
			p := *ok.Price
			in.Price = &p
			tc.mutate(&in)
			got, err := in.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if got.Name != "Anvil" {
					t.Fatalf("name not trimmed: %q", got.Name)
				}
				return
			}
			if !errors.Is(err, product.ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want ErrInvalid containing %q", err, tc.wantErr)
			}
		})
	}
}
