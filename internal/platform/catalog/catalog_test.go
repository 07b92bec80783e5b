package catalog_test

import (
	"errors"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
)

// TestUsableAndReadable: ACTIVE tenants read and write; RESTORING tenants
// read only (a write is refused with ErrReadOnly, not ErrSuspended); every
// other status neither.
func TestUsableAndReadable(t *testing.T) {
	tests := []struct {
		status   catalog.Status
		readable bool
		usable   error // nil: may write
	}{
		{catalog.StatusActive, true, nil},
		{catalog.StatusRestoring, true, catalog.ErrReadOnly},
		{catalog.StatusProvisioning, false, catalog.ErrSuspended},
		{catalog.StatusSuspended, false, catalog.ErrSuspended},
		{catalog.StatusOffboarding, false, catalog.ErrSuspended},
		{catalog.StatusOffboarded, false, catalog.ErrSuspended},
		{catalog.StatusFailed, false, catalog.ErrSuspended},
		{catalog.StatusOffboardFailed, false, catalog.ErrSuspended},
		{"", false, catalog.ErrSuspended},
		{"restoring", false, catalog.ErrSuspended}, // statuses are exact
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			r := catalog.Record{TenantID: "t-acme", Status: tt.status}
			err := r.Readable()
			if (err == nil) != tt.readable {
				t.Errorf("Readable() = %v, want readable %v", err, tt.readable)
			}
			if err != nil && !errors.Is(err, catalog.ErrSuspended) {
				t.Errorf("Readable() = %v, want it to wrap ErrSuspended", err)
			}
			err = r.Usable()
			switch {
			case tt.usable == nil && err != nil:
				t.Errorf("Usable() = %v, want nil", err)
			case tt.usable != nil && !errors.Is(err, tt.usable):
				t.Errorf("Usable() = %v, want it to wrap %v", err, tt.usable)
			}
			// The two refusals are distinct: a read-only tenant is not
			// suspended (403), and a suspended one is not read-only (503).
			if errors.Is(err, catalog.ErrReadOnly) && errors.Is(err, catalog.ErrSuspended) {
				t.Errorf("Usable() = %v wraps both ErrReadOnly and ErrSuspended", err)
			}
		})
	}
}
