package access

import (
	"context"
	"testing"
)

// A tenant's cached provider is handed out on every data call: a hit
// allocates nothing (the loader, a closure, is built only on a miss). No
// AWS call is made: ForTenant does not retrieve the credentials.
func TestForTenantHitDoesNotAllocate(t *testing.T) {
	c := NewCredentials(nil, "arn:aws:iam::123456789012:role/TenantDataAccessRole")
	ctx := context.Background()
	first, err := c.ForTenant(ctx, "t-alloc")
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		p, err := c.ForTenant(ctx, "t-alloc")
		if err != nil || p != first {
			t.Fatalf("ForTenant: %v, %v (want the cached provider)", p, err)
		}
	})
	if allocs != 0 {
		t.Fatalf("a cached tenant's provider costs %.0f allocations a call, want 0", allocs)
	}
	if n := c.AssumeRoleCalls(); n != 0 {
		t.Fatalf("%d AssumeRole calls, want none", n)
	}
}
