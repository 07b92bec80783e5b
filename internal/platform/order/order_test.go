package order_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/order"
)

func TestValidate(t *testing.T) {
	const pid = "01JCZ8W3T1K5Q7R9S2V4X6Y8Z0"
	tests := []struct {
		name    string
		in      order.Input
		wantErr string
	}{
		{"valid defaults to pending", order.Input{ProductID: pid, Quantity: 2, Customer: &order.Customer{Name: " Ann ", Email: "ann@example.com"}}, ""},
		{"bad product id", order.Input{ProductID: "x#y", Quantity: 1, Customer: &order.Customer{Name: "A", Email: "a@b.c"}}, "productId"},
		{"lowercase product id", order.Input{ProductID: strings.ToLower(pid), Quantity: 1, Customer: &order.Customer{Name: "A", Email: "a@b.c"}}, "productId"},
		{"zero quantity", order.Input{ProductID: pid, Quantity: 0, Customer: &order.Customer{Name: "A", Email: "a@b.c"}}, "quantity"},
		{"negative quantity", order.Input{ProductID: pid, Quantity: -3, Customer: &order.Customer{Name: "A", Email: "a@b.c"}}, "quantity"},
		{"no customer", order.Input{ProductID: pid, Quantity: 1}, "customer is required"},
		{"bad email", order.Input{ProductID: pid, Quantity: 1, Customer: &order.Customer{Name: "A", Email: "not-an-email"}}, "customer.email"},
		{"email with display name", order.Input{ProductID: pid, Quantity: 1, Customer: &order.Customer{Name: "A", Email: "Ann <a@b.c>"}}, "customer.email"},
		{"empty customer name", order.Input{ProductID: pid, Quantity: 1, Customer: &order.Customer{Name: " ", Email: "a@b.c"}}, "customer.name"},
		{"unknown status", order.Input{ProductID: pid, Quantity: 1, Customer: &order.Customer{Name: "A", Email: "a@b.c"}, Status: "lost"}, "status"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if got.Status != order.StatusPending || got.Customer.Name != "Ann" {
					t.Fatalf("not normalized: %+v", got)
				}
				return
			}
			if !errors.Is(err, order.ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want ErrInvalid containing %q", err, tc.wantErr)
			}
		})
	}
}
