package tenantapi_test

import (
	"context"
	"net/http"
	"testing"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/edge"
)

func TestTenantAdminsInviteUsersIntoTheirOwnTenantOnly(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme")
	globex := fixture.NewTenant(t, s.e, "globex")
	id := acme.Record.TenantID
	r := s.do(t, request(t, id, "POST", "/v1/users", nil, `{"email":"new.member@acme.test","role":"member"}`))
	if r.Status != http.StatusAccepted || r.Body["role"] != "member" || r.Body["status"] != "invited" {
		t.Fatalf("invite = %+v", r)
	}
	dir := directory.New(cip.NewFromConfig(s.e.Config), s.e.Settings.UserPoolID)
	u, err := dir.Get(context.Background(), "new.member@acme.test")
	if err != nil || u.TenantID != id || u.Role != "member" {
		t.Fatalf("invited user = %+v, %v", u, err)
	}
	if r := s.do(t, request(t, id, "POST", "/v1/users", nil, `{"email":"x@acme.test","role":"member","tenantId":"`+globex.Record.TenantID+`"}`)); r.Status != 400 || r.Code != edge.CodeUnknownField {
		t.Fatalf("tenantId in body = %+v", r)
	}
	// The email of globex's admin: neither moved nor revealed (the answer
	// of a new invitation; see TestInviteAnswersDoNotRevealThePool).
	if r := s.do(t, request(t, id, "POST", "/v1/users", nil, `{"email":"`+globex.AdminEmail+`","role":"admin"}`)); r.Status != http.StatusAccepted || r.Body["status"] != "invited" {
		t.Fatalf("other tenant's user = %+v", r)
	}
	if u, _ := dir.Get(context.Background(), globex.AdminEmail); u.TenantID != globex.Record.TenantID {
		t.Fatalf("globex admin moved to %s", u.TenantID)
	}
	if r := s.do(t, request(t, id, "POST", "/v1/users", nil, `{"email":"y@acme.test","role":"owner"}`)); r.Status != 400 {
		t.Fatalf("bad role = %+v", r)
	}
	list := s.do(t, request(t, id, "GET", "/v1/users", nil, ""))
	if list.Status != 200 || len(list.Body["items"].([]any)) != 1 {
		t.Fatalf("list = %+v", list)
	}
	// A member may do neither.
	member := request(t, id, "POST", "/v1/users", nil, `{"email":"z@acme.test","role":"admin"}`)
	member.RequestContext.Authorizer["role"] = "member"
	if r := s.do(t, member); r.Status != 403 || r.Code != edge.CodeForbidden {
		t.Fatalf("member invites = %+v", r)
	}
	memberList := request(t, id, "GET", "/v1/users", nil, "")
	memberList.RequestContext.Authorizer["role"] = "member"
	if r := s.do(t, memberList); r.Status != 403 {
		t.Fatalf("member lists = %+v", r)
	}
	if _, err := dir.Get(context.Background(), "z@acme.test"); err == nil {
		t.Fatal("a member created a user")
	}
}
