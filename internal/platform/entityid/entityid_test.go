package entityid_test

import (
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/entityid"
)

func TestValid(t *testing.T) {
	fresh := entityid.New()
	tests := []struct {
		id   string
		want bool
	}{
		{fresh, true},
		{strings.ToLower(fresh), false}, // one spelling per id
		{"", false},
		{fresh[:25], false},
		{fresh + "0", false},
		{fresh[:25] + "#", false},
		{fresh[:25] + "*", false},
		{fresh[:25] + "\x00", false},
		{"8ZZZZZZZZZZZZZZZZZZZZZZZZZ", false}, // overflows 128 bits
		{strings.Repeat("Ü", 13), false},
	}
	for _, tc := range tests {
		if got := entityid.Valid(tc.id); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}
