package provision_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/provision"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
)

// TestLeaseIsRenewedWhileAStepRuns: a step that outlasts the lease's TTL
// keeps the tenant: a provisioner of another process that comes after the
// TTL is still refused, because the holder renews the lease while it works.
func TestLeaseIsRenewedWhileAStepRuns(t *testing.T) {
	h := newHarness(t)
	deps := h.deps()
	deps.LeaseTTL = 2 * time.Second
	g := newGate(deps.Keys)
	deps.Keys = g
	d := h.requested(t, catalog.TierBasic)
	var wg sync.WaitGroup
	var firstErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		firstErr = provision.New(deps).Process(h.ctx, bus.TenantOnboardingRequested, d)
	}()
	defer func() {
		select {
		case <-g.open:
		default:
			close(g.open)
		}
		wg.Wait()
	}()
	<-g.entered
	time.Sleep(3 * deps.LeaseTTL) // well past the TTL of the first lease
	other := h.deps()
	other.LeaseTTL = deps.LeaseTTL
	other.Keys = g
	done := make(chan error, 1)
	go func() { done <- provision.New(other).Process(h.ctx, bus.TenantOnboardingRequested, d) }()
	select {
	case err := <-done:
		if !errors.Is(err, provision.ErrLater) {
			t.Fatalf("other process: %v, want ErrLater", err)
		}
	case <-g.entered:
		t.Fatal("the lease lapsed while its holder was still working: another process entered the tenant's steps")
	case <-time.After(20 * time.Second):
		t.Fatal("other process neither refused nor running")
	}
	close(g.open)
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	h.assertActive(t, d)
}
