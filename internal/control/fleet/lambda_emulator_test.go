package fleet_test

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/tessera-saas/tessera/internal/control/fleet"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// event reads a sample input of the fleet Lambda from events/.
func event(t *testing.T, name string) fleet.Request {
	t.Helper()
	b, err := os.ReadFile("../../../events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var req fleet.Request
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	return req
}

// TestLambdaPlansAndAppliesOneTenantPerItem replays the state machine's
// inputs (events/fleet-plan.json, events/fleet-apply.json) to the fleet
// Lambda's handler.
func TestLambdaPlansAndAppliesOneTenantPerItem(t *testing.T) {
	h := newHarness(t)
	a := h.tenant(t, "fleet-lambda-a", false)
	b := h.tenant(t, "fleet-lambda-b", false)
	h.legacy(t, a, "a", 5, false)
	h.legacy(t, b, "b", 5, false)
	r := h.runner(t, fleet.Deps{})

	out, err := r.Handle(bg, event(t, "fleet-plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	plan := out.(fleet.PlanOutput)
	if len(plan.Waves) != 2 || plan.Waves[0].Wave != 0 || len(plan.Waves[0].Tenants) != 1 || len(plan.Waves[1].Tenants) != 1 {
		t.Fatalf("plan = %+v", plan)
	}

	apply := event(t, "fleet-apply.json")
	apply.TenantID = plan.Waves[0].Tenants[0]
	out, err = r.Handle(bg, apply)
	if res, _ := out.(fleet.Result); err != nil || res.Outcome != fleet.StateApplied || res.Changed != 5 {
		t.Fatalf("apply = %+v, %v", out, err)
	}
	run, _, _ := h.cat.GetFleetRun(bg, apply.TenantID, "migration/0001-product-sku-key")
	if run.State != fleet.StateApplied || run.By != apply.Actor || run.Wave != 1 {
		t.Fatalf("run = %+v", run)
	}
	// The plan's items are the tenants that still need the target.
	out, _ = r.Handle(bg, event(t, "fleet-plan.json"))
	if p := out.(fleet.PlanOutput); len(p.Waves[0].Tenants) != 0 || len(p.Waves[1].Tenants) != 1 {
		t.Fatalf("plan after one apply = %+v", p)
	}

	// A tenant another runner holds is the error type the state machine
	// retries.
	other := plan.Waves[1].Tenants[0]
	held := store.FleetRun{TenantID: other, Target: "migration/0001-product-sku-key", State: fleet.StateApplying, Owner: "someone-else", HeldUntil: 1 << 62}
	if _, err := h.cat.SaveFleetRun(bg, held, nil); err != nil {
		t.Fatal(err)
	}
	apply.TenantID = other
	var ive messages.InvokeResponse_Error
	if _, err := r.Handle(bg, apply); !errors.As(err, &ive) || ive.Type != fleet.ErrorTypeBusy {
		t.Fatalf("apply to a held tenant: %v, want error type %s", err, fleet.ErrorTypeBusy)
	}

	for _, bad := range []fleet.Request{{Action: "dance", Target: "0001"}, {Action: "apply", Target: "0001"}, {Action: "plan", Target: "migration/0042"}} {
		if _, err := r.Handle(bg, bad); !errors.Is(err, fleet.ErrBadRequest) && !errors.Is(err, fleet.ErrBadTarget) {
			t.Errorf("Handle(%+v) = %v, want ErrBadRequest or ErrBadTarget", bad, err)
		}
	}
}
