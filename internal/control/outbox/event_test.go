package outbox_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/outbox"
)

// TestEventValidatesAgainstTheContract: outbox.Event is where every
// control-plane event is made before it is written with its state change;
// an event that breaks its type's contract (what the provisioner's
// bus.Parse would refuse) is an error there, so it is never written or
// published, and a valid one is rendered with the schema version.
func TestEventValidatesAgainstTheContract(t *testing.T) {
	const id = "t-01hzx3k9q7m2n4p6r8s0t1v3w5"
	onboarding := bus.Detail{TenantID: id, Tier: "standard", CorrelationID: "c-1", TenantName: "Acme Corp", AdminEmail: "admin@acme.example"}
	tests := []struct {
		name  string
		dt    bus.DetailType
		edit  func(*bus.Detail)
		valid bool
	}{
		{"onboarding", bus.TenantOnboardingRequested, func(*bus.Detail) {}, true},
		{"provisioned", bus.TenantProvisioned, func(d *bus.Detail) {
			d.TenantName, d.AdminEmail, d.Tier, d.Table = "", "", "premium", "tessera-tenant-"+id
		}, true},
		{"provisioning failed", bus.TenantProvisioningFailed, func(d *bus.Detail) { d.TenantName, d.AdminEmail, d.Reason = "", "", "no capacity" }, true},
		{"provisioning check", bus.TenantProvisioningCheck, func(d *bus.Detail) { d.Attempt = 2 }, true},
		{"suspended", bus.TenantSuspended, func(d *bus.Detail) { d.TenantName, d.AdminEmail, d.Reason = "", "", "unpaid invoice" }, true},
		{"resumed", bus.TenantResumed, func(d *bus.Detail) { d.TenantName, d.AdminEmail = "", "" }, true},
		{"tier changed", bus.TenantTierChanged, func(d *bus.Detail) { d.TenantName, d.AdminEmail, d.PreviousTier = "", "", "basic" }, true},
		{"offboarding without reason", bus.TenantOffboardingRequested, func(d *bus.Detail) { d.TenantName, d.AdminEmail = "", "" }, true},
		{"offboarded", bus.TenantOffboarded, func(d *bus.Detail) { d.TenantName, d.AdminEmail = "", "" }, true},
		{"any schema version given is replaced", bus.TenantOnboardingRequested, func(d *bus.Detail) { d.SchemaVersion = 7 }, true},

		{"missing tenantId", bus.TenantOnboardingRequested, func(d *bus.Detail) { d.TenantID = "" }, false},
		{"invalid tenantId", bus.TenantOnboardingRequested, func(d *bus.Detail) { d.TenantID = "Acme Corp" }, false},
		{"unknown tier", bus.TenantOnboardingRequested, func(d *bus.Detail) { d.Tier = "gold" }, false},
		{"missing tier", bus.TenantOnboardingRequested, func(d *bus.Detail) { d.Tier = "" }, false},
		{"missing correlationId", bus.TenantOnboardingRequested, func(d *bus.Detail) { d.CorrelationID = "" }, false},
		{"correlationId too long", bus.TenantOnboardingRequested, func(d *bus.Detail) { d.CorrelationID = strings.Repeat("c", 129) }, false},
		{"missing adminEmail", bus.TenantOnboardingRequested, func(d *bus.Detail) { d.AdminEmail = "" }, false},
		{"adminEmail not an address", bus.TenantOnboardingRequested, func(d *bus.Detail) { d.AdminEmail = "admin at acme" }, false},
		{"field of another type", bus.TenantOnboardingRequested, func(d *bus.Detail) { d.Table = "tessera-pooled" }, false},
		{"unknown detail type", "TenantExploded", func(*bus.Detail) {}, false},
		{"empty detail type", "", func(*bus.Detail) {}, false},
		{"tier change without previous tier", bus.TenantTierChanged, func(d *bus.Detail) { d.AdminEmail, d.TenantName = "", "" }, false},
		{"tier change to an unknown previous tier", bus.TenantTierChanged, func(d *bus.Detail) { d.AdminEmail, d.TenantName, d.PreviousTier = "", "", "gold" }, false},
		{"suspension without reason", bus.TenantSuspended, func(d *bus.Detail) { d.AdminEmail, d.TenantName = "", "" }, false},
		{"reason on a resume", bus.TenantResumed, func(d *bus.Detail) { d.AdminEmail, d.TenantName, d.Reason = "", "", "because" }, false},
		{"negative attempt", bus.TenantProvisioningCheck, func(d *bus.Detail) { d.Attempt = -1 }, false},
		{"bad table name", bus.TenantProvisioned, func(d *bus.Detail) { d.AdminEmail, d.TenantName, d.Table = "", "", "a b" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := onboarding
			tt.edit(&d)
			ev, err := outbox.Event(tt.dt, d)
			if !tt.valid {
				if !errors.Is(err, bus.ErrInvalidEvent) || ev != nil {
					t.Fatalf("Event = %+v, %v; want no event and an error wrapping bus.ErrInvalidEvent", ev, err)
				}
				if !strings.HasPrefix(err.Error(), "outbox: ") || !strings.Contains(err.Error(), string(tt.dt)) {
					t.Errorf("error %q does not say where and which event", err)
				}
				t.Log(err)
				return
			}
			if err != nil || ev == nil {
				t.Fatalf("Event = %+v, %v; want an event", ev, err)
			}
			if ev.DetailType != string(tt.dt) {
				t.Errorf("detail type %q, want %q", ev.DetailType, tt.dt)
			}
			var got bus.Detail
			if err := json.Unmarshal([]byte(ev.Detail), &got); err != nil {
				t.Fatalf("detail is not JSON: %v\n%s", err, ev.Detail)
			}
			d.SchemaVersion = bus.SchemaVersion
			if got != d {
				t.Errorf("detail %+v, want %+v", got, d)
			}
			if err := bus.Validate(tt.dt, got); err != nil {
				t.Errorf("the written detail does not validate: %v", err)
			}
		})
	}
}
