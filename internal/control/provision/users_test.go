package provision_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/provision"
	"github.com/tessera-saas/tessera/internal/local/testenv/apievent"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
	"github.com/tessera-saas/tessera/internal/wire"
)

func (h harness) dir() *directory.Directory {
	d := directory.New(cip.NewFromConfig(h.e.Config), h.e.Settings.UserPoolID)
	d.Invite = false
	return d
}

// invite is POST /v1/users by the tenant's admin, through the api handler.
func (h harness) invite(t *testing.T, tenantID, email string) apievent.Result {
	t.Helper()
	api := wire.NewAPI(h.e.Config, h.e.Settings, quiet, nil)
	return apievent.Do(t, api.Handler.Handle, apievent.Request(t, tenantID, "POST", "/v1/users", nil, `{"email":"`+email+`","role":"member"}`))
}

func (h harness) changeEmail(t *testing.T, from, to string) {
	t.Helper()
	if _, err := cip.NewFromConfig(h.e.Config).AdminUpdateUserAttributes(h.ctx, &cip.AdminUpdateUserAttributesInput{UserPoolId: &h.e.Settings.UserPoolID,
		Username: &from, UserAttributes: []ciptypes.AttributeType{{Name: aws.String("email"), Value: &to}}}); err != nil {
		t.Fatal(err)
	}
}

func (h harness) assertGone(t *testing.T, sub string) {
	t.Helper()
	if u, err := h.dir().Get(h.ctx, sub); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("user %s (%+v) survived offboarding: %v", sub, u, err)
	}
}

// TestOffboardingDeletesUsersWhoseEmailChanged: the admin and an invited
// member both change their email; offboarding still deletes both, by sub.
func TestOffboardingDeletesUsersWhoseEmailChanged(t *testing.T) {
	h := newHarness(t)
	d, _, _ := h.onboarded(t, catalog.TierBasic)
	admin, ok := h.user(t, d.AdminEmail)
	if !ok {
		t.Fatal("no admin")
	}
	member := "mover-" + d.TenantID[2:12] + "@prov.test"
	if r := h.invite(t, d.TenantID, member); r.Status != http.StatusAccepted {
		t.Fatalf("invite = %+v", r)
	}
	m, ok := h.user(t, member)
	if !ok {
		t.Fatal("no member")
	}
	h.changeEmail(t, d.AdminEmail, "moved-admin-"+d.TenantID[2:12]+"@prov.test")
	h.changeEmail(t, member, "moved-member-"+d.TenantID[2:12]+"@prov.test")
	h.offboard(t, d)
	h.assertGone(t, admin.Sub)
	h.assertGone(t, m.Sub)
}

// TestRetriedInviteIsRemovedByOffboarding: a user Cognito holds without a
// record (its invitation's record write failed) is recorded by the retried
// invitation (200), and offboarding then removes it.
func TestRetriedInviteIsRemovedByOffboarding(t *testing.T) {
	h := newHarness(t)
	d, _, _ := h.onboarded(t, catalog.TierBasic)
	email := "half-" + d.TenantID[2:12] + "@prov.test"
	u, err := h.dir().Create(h.ctx, d.TenantID, tenant.RoleMember, email)
	if err != nil {
		t.Fatal(err)
	}
	if r := h.invite(t, d.TenantID, email); r.Status != http.StatusOK || r.Body["sub"] != u.Sub {
		t.Fatalf("retried invite = %+v, want 200 with the record", r)
	}
	h.offboard(t, d)
	h.assertGone(t, u.Sub)
}

// TestRefusedAdminEmailFailsAtOnceWithAStableReason: an admin email the
// user pool refuses (one that reached the catalog without the operator
// API's check) fails onboarding on the first delivery, with a reason made
// for people, not the SDK's error.
func TestRefusedAdminEmailFailsAtOnceWithAStableReason(t *testing.T) {
	h := newHarness(t)
	d := h.requestedWith(t, catalog.TierBasic, "-a@acme.test")
	resp, err := provision.New(h.deps()).Handle(h.ctx, events.SQSEvent{Records: []events.SQSMessage{sqsRecord(t, bus.TenantOnboardingRequested, d, 1)}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("a permanent failure is retried: %v %+v", err, resp)
	}
	rec := h.record(t, d.TenantID)
	if want := "admin_email_rejected: the user pool refused the admin email"; rec.Status != catalog.StatusFailed || rec.Reason != want {
		t.Fatalf("tenant = %s %q, want FAILED %q", rec.Status, rec.Reason, want)
	}
	audit, err := h.deps().Catalog.AuditTrail(h.ctx, d.TenantID)
	if err != nil || len(audit) == 0 || strings.Contains(audit[len(audit)-1].Detail, "RequestID") {
		t.Fatalf("audit = %+v, %v", audit, err)
	}
}

// limitedCognito is the emulator's user pool, but AdminCreateUser answers
// Cognito's LimitExceededException (its daily email quota): a stub, as
// moto has no such limit.
type limitedCognito struct{ directory.Cognito }

func (limitedCognito) AdminCreateUser(context.Context, *cip.AdminCreateUserInput, ...func(*cip.Options)) (*cip.AdminCreateUserOutput, error) {
	return nil, &ciptypes.LimitExceededException{Message: aws.String("Exceeded daily email limit for the operation or the account.")}
}

// TestUserPoolLimitIsRetriedNeverFailed: with the user pool over its limit,
// onboarding stays PROVISIONING and is retried later (ErrLater: a delayed
// re-check), even on the delivery that would exhaust the retry budget; once
// the pool takes users again, it completes.
func TestUserPoolLimitIsRetriedNeverFailed(t *testing.T) {
	h := newHarness(t)
	deps := h.deps()
	deps.Users = directory.New(limitedCognito{cip.NewFromConfig(h.e.Config)}, h.e.Settings.UserPoolID)
	p := provision.New(deps)
	d := h.requested(t, catalog.TierBasic)
	if err := p.Process(h.ctx, bus.TenantOnboardingRequested, d); !errors.Is(err, provision.ErrLater) {
		t.Fatalf("over the pool's limit: %v, want ErrLater", err)
	}
	if _, err := p.Handle(h.ctx, events.SQSEvent{Records: []events.SQSMessage{sqsRecord(t, bus.TenantOnboardingRequested, d, provision.MaxAttempts)}}); err != nil {
		t.Fatal(err)
	}
	if rec := h.record(t, d.TenantID); rec.Status != catalog.StatusProvisioning || rec.Reason != "" {
		t.Fatalf("last delivery over the pool's limit: %s %q; want PROVISIONING, to be retried", rec.Status, rec.Reason)
	}
	if err := provision.New(h.deps()).Process(h.ctx, bus.TenantOnboardingRequested, d); err != nil {
		t.Fatal(err)
	}
	h.assertActive(t, d)
}
