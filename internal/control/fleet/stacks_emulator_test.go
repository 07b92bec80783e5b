package fleet_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/tessera-saas/tessera/internal/control/fleet"
	"github.com/tessera-saas/tessera/internal/control/provision"
	"github.com/tessera-saas/tessera/internal/control/tenantstack"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// stackTenant onboards a tenant whose dedicated table is a TenantStack of
// the previous template version.
func (h *harness) stackTenant(t *testing.T, tables provision.Tables, name string) catalog.Record {
	t.Helper()
	rec := fixture.NewTenant(t, h.e, name).Record
	table, err := tables.EnsureFrom(bg, rec, tenantstack.PreviousTemplateBody(), tenantstack.PreviousVersion())
	if err != nil {
		t.Fatal(err)
	}
	p := rec.Placement
	p.Table, p.Dedicated, p.Template = table, true, tenantstack.PreviousVersion()
	if rec, err = h.cat.Apply(bg, rec.TenantID, store.Change{Tier: catalog.TierPremium, Placement: &p}, nil, nil); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.tenants[rec.TenantID] = true
	h.mu.Unlock()
	return rec
}

// TestAFailedStackUpdateHaltsTheRolloutAndLeavesTheOtherStacks: the
// canary's stack moves to the checked-in version; in wave 1 one update
// fails (the tenant's stack is gone: CloudFormation refuses the update on
// every engine), the rollout halts, and the stacks of wave 2 stay on their
// version, in CloudFormation and in the catalog.
func TestAFailedStackUpdateHaltsTheRolloutAndLeavesTheOtherStacks(t *testing.T) {
	h := newHarness(t)
	cfn := cloudformation.NewFromConfig(h.e.Config)
	tables := provision.Tables{Stacks: cfn, Settings: h.e.Settings, Poll: 100 * time.Millisecond}
	var recs []catalog.Record
	for i := range 5 {
		recs = append(recs, h.stackTenant(t, tables, fmt.Sprintf("fleet-stack-%d", i)))
	}
	r := h.runner(t, fleet.Deps{Stacks: tables, Template: tenantstack.Version(), Policy: fleet.Policy{Canaries: []string{recs[0].TenantID}}})
	target, err := r.Target("stack")
	if err != nil || target.String() != "stack/"+tenantstack.Version() {
		t.Fatalf("target = %v, %v", target, err)
	}
	plan, err := r.Plan(bg, target)
	if err != nil || len(plan.Waves) != 3 || waveSizes(plan)[1] != 2 {
		t.Fatalf("plan = %+v, %v", plan, err)
	}
	// The failing tenant: the first of wave 1 loses its stack.
	failing := plan.Waves[1].Tenants[0].TenantID
	if _, err := cfn.DeleteStack(bg, &cloudformation.DeleteStackInput{StackName: aws.String(provision.StackName(h.e.Settings.Stage, failing))}); err != nil {
		t.Fatal(err)
	}
	if err := cloudformation.NewStackDeleteCompleteWaiter(cfn, func(o *cloudformation.StackDeleteCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	}).Wait(bg, &cloudformation.DescribeStacksInput{StackName: aws.String(provision.StackName(h.e.Settings.Stage, failing))}, time.Minute); err != nil {
		t.Fatal(err)
	}

	rep, err := r.Apply(bg, target, fleet.Options{Wave: -1, MaxConcurrency: 1, FailureThreshold: 0, Actor: "ops"})
	if !errors.Is(err, fleet.ErrHalted) || len(rep.Waves) != 2 || rep.Waves[1].Failed != 1 {
		t.Fatalf("apply = %+v, %v; want halted in wave 1", rep, err)
	}
	if f := rep.Waves[1].Failures[0]; f.TenantID != failing || !strings.Contains(f.Error, "does not exist") {
		t.Fatalf("failure = %+v", f)
	}
	version := func(id string) (stack, placement string) {
		v, err := tables.StackVersion(bg, id)
		if err != nil {
			t.Fatalf("stack version of %s: %v", id, err)
		}
		rec, err := h.cat.GetTenant(bg, id)
		if err != nil {
			t.Fatal(err)
		}
		return v, rec.Placement.Template
	}
	if s, p := version(recs[0].TenantID); s != tenantstack.Version() || p != tenantstack.Version() {
		t.Errorf("canary: stack %s, placement %s; want %s", s, p, tenantstack.Version())
	}
	for _, tp := range plan.Waves[2].Tenants {
		if s, p := version(tp.TenantID); s != tenantstack.PreviousVersion() || p != tenantstack.PreviousVersion() {
			t.Errorf("wave 2 tenant %s: stack %s, placement %s; want still %s", tp.TenantID, s, p, tenantstack.PreviousVersion())
		}
	}
	run, _, _ := h.cat.GetFleetRun(bg, failing, target.String())
	if run.State != fleet.StateFailed || !strings.Contains(run.Error, "does not exist") {
		t.Fatalf("failing tenant's run = %+v", run)
	}
	// Status shows it: the plan's states.
	plan, _ = r.Plan(bg, target)
	if got := plan.Waves[0].Tenants[0].State; got != fleet.StateCurrent {
		t.Errorf("canary state %s", got)
	}
	if c := plan.Waves[2].Counts(); c[fleet.StatePending] != len(plan.Waves[2].Tenants) {
		t.Errorf("wave 2 counts %v, want all pending", c)
	}
}
