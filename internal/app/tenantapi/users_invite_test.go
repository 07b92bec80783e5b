package tenantapi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tessera-saas/tessera/internal/app/tenantapi"
	"github.com/tessera-saas/tessera/internal/local/seed"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
	"github.com/tessera-saas/tessera/internal/wire"
)

func (s *suite) dir() *directory.Directory {
	d := directory.New(cip.NewFromConfig(s.e.Config), s.e.Settings.UserPoolID)
	d.Invite = false
	return d
}

// partition counts a tenant's items of one entity, read directly.
func (s *suite) partition(t *testing.T, tenantID, entity string) []map[string]types.AttributeValue {
	t.Helper()
	out, err := s.ddb.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 aws.String(s.e.Settings.PooledTable),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: tenantID + "#" + entity}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Items
}

func invite(t *testing.T, tenantID, email, role string) events.APIGatewayProxyRequest {
	return request(t, tenantID, "POST", "/v1/users", nil, `{"email":"`+email+`","role":"`+role+`"}`)
}

// TestInviteRefusesEmailsThePoolRefuses: addresses that pass a plain email
// check but that the user pool refuses, and addresses over 128 characters,
// are 400 validation_failed up front, and nothing is written anywhere.
func TestInviteRefusesEmailsThePoolRefuses(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	long := strings.Repeat("a", 60) + "@" + strings.Repeat("b", 58) + ".acme.test" // 129
	for _, email := range []string{"-a@acme.test", "a@acme", "a@b.c", long} {
		r := s.do(t, invite(t, acme.TenantID, email, "member"))
		if r.Status != http.StatusBadRequest || r.Code != edge.CodeValidation {
			t.Errorf("invite %q (%d chars) = %+v, want 400 %s", email, len(email), r, edge.CodeValidation)
		}
		if _, err := s.dir().Get(context.Background(), email); !errors.Is(err, directory.ErrNotFound) {
			t.Errorf("%q: the user pool has it (%v)", email, err)
		}
	}
	if n := len(s.partition(t, acme.TenantID, "USER")) + len(s.partition(t, acme.TenantID, "INVITES")); n != 0 {
		t.Fatalf("refused invitations wrote %d items", n)
	}
}

// TestInviteAnswersDoNotRevealThePool: inviting a new email, another
// tenant's user and an operator get byte-identical answers (but for the
// email), and only the new one creates anything.
func TestInviteAnswersDoNotRevealThePool(t *testing.T) {
	s := newSuite(t)
	ctx := context.Background()
	acme := fixture.NewTenant(t, s.e, "acme").Record
	globex := fixture.NewTenant(t, s.e, "globex")
	operator := "operator-" + tenant.NewID()[2:12] + "@tessera.test"
	if err := seed.EnsureOperator(ctx, cip.NewFromConfig(s.e.Config), s.e.Settings.UserPoolID, operator, fixture.Password); err != nil {
		t.Fatal(err)
	}
	fresh := "fresh-" + tenant.NewID()[2:12] + "@acme.test"
	answer := func(email string) (int, string, map[string]string) {
		resp, err := s.h.Handle(ctx, invite(t, acme.TenantID, email, "admin"))
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, strings.ReplaceAll(resp.Body, email, "EMAIL"), resp.Headers
	}
	status, body, headers := answer(fresh)
	if status != http.StatusAccepted || body != `{"email":"EMAIL","role":"admin","status":"invited"}` {
		t.Fatalf("new email: %d %s", status, body)
	}
	for _, email := range []string{globex.AdminEmail, operator} {
		st, b, hd := answer(email)
		if st != status || b != body || len(hd) != len(headers) {
			t.Errorf("%s: %d %s %v; the new email got %d %s %v", email, st, b, hd, status, body, headers)
		}
		for k, v := range headers {
			if hd[k] != v {
				t.Errorf("%s: header %s = %q, the new email got %q", email, k, hd[k], v)
			}
		}
	}
	// Only the new user exists in acme; the others are where they were.
	items := s.partition(t, acme.TenantID, "USER")
	if len(items) != 1 || items[0]["email"].(*types.AttributeValueMemberS).Value != fresh {
		t.Fatalf("acme's user records = %v, want only %s", items, fresh)
	}
	if u, err := s.dir().Get(ctx, globex.AdminEmail); err != nil || u.TenantID != globex.Record.TenantID || u.Role != tenant.RoleAdmin {
		t.Fatalf("globex's admin = %+v, %v", u, err)
	}
	if u, err := s.dir().Get(ctx, operator); err != nil || u.TenantID != "" {
		t.Fatalf("operator = %+v, %v", u, err)
	}
}

// TestRetriedInviteCompletesTheRecord: a user of the tenant that Cognito
// holds without a record (the record write of its invitation failed) is
// recorded by the retried invitation, which answers 200 with the record: the
// real creation time, the one the list shows.
func TestRetriedInviteCompletesTheRecord(t *testing.T) {
	s := newSuite(t)
	ctx := context.Background()
	acme := fixture.NewTenant(t, s.e, "acme").Record
	email := "half-" + tenant.NewID()[2:12] + "@acme.test"
	u, err := s.dir().Create(ctx, acme.TenantID, tenant.RoleMember, email)
	if err != nil {
		t.Fatal(err)
	}
	r := s.do(t, invite(t, acme.TenantID, email, "admin"))
	if r.Status != http.StatusOK || r.Body["sub"] != u.Sub || r.Body["email"] != email || r.Body["role"] != "member" {
		t.Fatalf("retried invite = %+v, want 200 with the member's record", r)
	}
	created, err := time.Parse(time.RFC3339Nano, r.Body["createdAt"].(string))
	if err != nil || created.Year() < 2020 {
		t.Fatalf("createdAt %v (%v)", r.Body["createdAt"], err)
	}
	list := s.do(t, request(t, acme.TenantID, "GET", "/v1/users", nil, ""))
	items, _ := list.Body["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["createdAt"] != r.Body["createdAt"] || items[0].(map[string]any)["sub"] != u.Sub {
		t.Fatalf("list = %+v; the invite answered %+v", list.Body, r.Body)
	}
	// Once more: the same record, the same time; nothing new is counted.
	if again := s.do(t, invite(t, acme.TenantID, email, "member")); again.Status != http.StatusOK || again.Body["createdAt"] != r.Body["createdAt"] {
		t.Fatalf("third invite = %+v", again)
	}
	if n := len(s.partition(t, acme.TenantID, "INVITES")); n != 0 {
		t.Fatalf("completing a record counted an invitation (%d counter items)", n)
	}
}

// TestInvitesAreCappedPerTenantPerDay: a basic tenant's invitations beyond
// its plan's daily number are 429 invite_limit with Retry-After until the
// next UTC midnight, and write nothing; another tenant is unaffected.
func TestInvitesAreCappedPerTenantPerDay(t *testing.T) {
	s := newSuite(t)
	ctx := context.Background()
	acme := fixture.NewTenant(t, s.e, "acme").Record
	globex := fixture.NewTenant(t, s.e, "globex").Record
	limits, _ := plan.For(catalog.TierBasic)
	run := tenant.NewID()[2:10]
	for i := 0; i < limits.InvitesPerDay; i++ {
		if r := s.do(t, invite(t, acme.TenantID, "cap-"+run+"-"+strconv.Itoa(i)+"@acme.test", "member")); r.Status != http.StatusAccepted {
			t.Fatalf("invite %d = %+v", i, r)
		}
	}
	over := "cap-" + run + "-over@acme.test"
	resp, err := s.h.Handle(ctx, invite(t, acme.TenantID, over, "member"))
	if err != nil {
		t.Fatal(err)
	}
	midnight := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	retry, _ := strconv.Atoi(resp.Headers["Retry-After"])
	if want := int(time.Until(midnight).Seconds()); resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(resp.Body, `"invite_limit"`) || retry < want-5 || retry > want+5 {
		t.Fatalf("invite %d = %d %s Retry-After %q, want 429 invite_limit, Retry-After about %d", limits.InvitesPerDay+1, resp.StatusCode, resp.Body, resp.Headers["Retry-After"], want)
	}
	if _, err := s.dir().Get(ctx, over); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("the refused invitation created a user (%v)", err)
	}
	if n := len(s.partition(t, acme.TenantID, "USER")); n != limits.InvitesPerDay {
		t.Fatalf("%d user records, want %d", n, limits.InvitesPerDay)
	}
	if r := s.do(t, invite(t, globex.TenantID, "cap-"+run+"@globex.test", "member")); r.Status != http.StatusAccepted {
		t.Fatalf("another tenant's invite = %+v", r)
	}
}

// overLimitCognito answers AdminCreateUser with Cognito's
// LimitExceededException (its daily email quota): a stub, because moto has
// no such limit. Everything else goes to the emulator.
type overLimitCognito struct{ directory.Cognito }

func (overLimitCognito) AdminCreateUser(context.Context, *cip.AdminCreateUserInput, ...func(*cip.Options)) (*cip.AdminCreateUserOutput, error) {
	return nil, &ciptypes.LimitExceededException{Message: aws.String("Exceeded daily email limit for the operation or the account.")}
}

// records is the catalog the stubbed handler reads: the fixture's records.
type records map[string]catalog.Record

func (r records) Get(_ context.Context, id string) (catalog.Record, error) {
	if rec, ok := r[id]; ok {
		return rec, nil
	}
	return catalog.Record{}, catalog.ErrNotFound
}

// TestUserPoolLimitIsTryLater: the user pool over its limit is 503
// try_later with Retry-After, not 500, and no record is written.
func TestUserPoolLimitIsTryLater(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	creds := access.NewCredentials(sts.NewFromConfig(s.e.Config), s.e.Settings.DataAccessRoleARN)
	data := store.New(s.ddb, crypto.NewEnvelope(kms.NewFromConfig(s.e.Config)), store.WithCredentials(creds))
	users := directory.New(overLimitCognito{cip.NewFromConfig(s.e.Config)}, s.e.Settings.UserPoolID)
	verifier, err := wire.NewVerifier(s.e.Config, s.e.Settings)
	if err != nil {
		t.Fatal(err)
	}
	h := tenantapi.New(records{acme.TenantID: acme}, data, users, slog.New(slog.NewJSONHandler(io.Discard, nil))).WithVerifier(verifier)
	resp, err := h.Handle(context.Background(), invite(t, acme.TenantID, "limited-"+tenant.NewID()[2:12]+"@acme.test", "member"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(resp.Body, `"`+edge.CodeTryLater+`"`) || resp.Headers["Retry-After"] != "60" {
		t.Fatalf("over the pool's limit: %d %s %v, want 503 %s with Retry-After", resp.StatusCode, resp.Body, resp.Headers, edge.CodeTryLater)
	}
	if n := len(s.partition(t, acme.TenantID, "USER")); n != 0 {
		t.Fatalf("%d user records written", n)
	}
}
