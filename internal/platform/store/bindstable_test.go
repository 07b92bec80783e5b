package store_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/platform/store"
)

// TestBindsTable: an order whose customer is sealed in the format that
// binds the table (version 1) is told apart from one in version 2, and
// from binary attributes that are not sealed fields.
func TestBindsTable(t *testing.T) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	b := func(v ...byte) types.AttributeValue { return &types.AttributeValueMemberB{Value: v} }
	tests := []struct {
		name string
		it   store.Item
		want bool
	}{
		{"order sealed in version 1", store.Item{"pk": s("t-a#ORDER"), "sk": s("o-1"), "customerName": b(2, 0, 1), "customerEmail": b(1, 0, 1)}, true},
		{"order sealed in version 2", store.Item{"pk": s("t-a#ORDER"), "sk": s("o-1"), "customerName": b(2, 0, 1), "customerEmail": b(2, 0, 1)}, false},
		{"a product's binary attribute", store.Item{"pk": s("t-a#PRODUCT"), "sk": s("p-1"), "customerName": b(1, 0, 1)}, false},
		{"order without customer", store.Item{"pk": s("t-a#ORDER"), "sk": s("o-2")}, false},
		{"no partition key", store.Item{"customerName": b(1)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := store.BindsTable(tc.it); got != tc.want {
				t.Fatalf("BindsTable = %v, want %v", got, tc.want)
			}
		})
	}
}
