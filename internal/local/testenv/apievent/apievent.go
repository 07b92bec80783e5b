package apievent

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/tessera-saas/tessera/internal/local/emulator"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/entityid"
	"github.com/tessera-saas/tessera/internal/platform/idtoken"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// SampleToken is the Authorization header of the samples in events/: a
// placeholder that Do replaces with a real ID token (see Do).
const SampleToken = "Bearer {{id-token}}"

// Sample loads events/<name> and makes it a request of a user of tenant
// tenantID (the sample's own tenant when tenantID is empty), with that
// user's real ID token in its Authorization header (see Do). Tenant route
// samples carry the tenant authorizer's context (requestContext.authorizer:
// tenantId, role, groups, ...), operator route samples the Cognito
// authorizer's claims.
func Sample(t testing.TB, name, tenantID string) events.APIGatewayProxyRequest {
	t.Helper()
	root, err := emulator.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if tenantID != "" {
		if claims, ok := ev.RequestContext.Authorizer["claims"].(map[string]any); ok {
			claims[tenant.ClaimTenantID] = tenantID
		} else if ev.RequestContext.Authorizer != nil {
			ev.RequestContext.Authorizer["tenantId"] = tenantID
		}
	}
	if tenant.AuthorizationHeader(ev.Headers, ev.MultiValueHeaders) == SampleToken {
		ev = WithToken(t, ev)
	}
	return ev
}

// Request is a request of tenant tenantID's admin to method resource.
func Request(t testing.TB, tenantID, method, resource string, params map[string]string, body string) events.APIGatewayProxyRequest {
	t.Helper()
	ev := Sample(t, "api-rest-create-product.json", tenantID)
	ev.HTTPMethod, ev.Resource, ev.PathParameters, ev.Body = method, resource, params, body
	ev.QueryStringParameters = nil
	return ev
}

// Operator is a request to an operator route of a user in the Cognito
// groups groups ("," separated), of no tenant: an operator when groups is
// "operators".
func Operator(t testing.TB, method, resource string, params map[string]string, body string, groups string) events.APIGatewayProxyRequest {
	t.Helper()
	ev := Sample(t, "api-rest-operator-create-tenant.json", "")
	ev.HTTPMethod, ev.Resource, ev.PathParameters, ev.Body = method, resource, params, body
	ev.QueryStringParameters = nil
	delete(ev.Headers, "Idempotency-Key")
	delete(ev.MultiValueHeaders, "Idempotency-Key")
	ev.RequestContext.Authorizer["claims"].(map[string]any)[tenant.ClaimGroups] = groups
	return WithToken(t, ev)
}

// Result is a handler's response: the status, the JSON body and the error
// code, if any.
type Result struct {
	Status int
	Body   map[string]any
	Code   string
}

// Handler is a Lambda handler of REST proxy events.
type Handler func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// Do sends ev to h and reads the response; a handler error or a body that
// is not JSON fails the test.
//
// The handlers verify the Authorization header's ID token themselves, so the
// events of Sample, Request and Operator carry a real one: the token of a
// user of the local stack's pool who has the identity the event's authorizer
// context (or Cognito claims) names — its tenant, role, groups and sub
// (made once per identity and test binary). A test that changes that
// identity afterwards (a member's role, another sub) gets the token of the
// new identity from Do; a test that sets another Authorization header, or
// removes it, sends exactly that.
func Do(t testing.TB, h Handler, ev events.APIGatewayProxyRequest) Result {
	t.Helper()
	ev = Fresh(t, ev)
	resp, err := h(context.Background(), ev)
	if err != nil {
		t.Fatalf("handler returned an error: %v", err)
	}
	r := Result{Status: resp.StatusCode}
	if resp.Body != "" {
		if err := json.Unmarshal([]byte(resp.Body), &r.Body); err != nil {
			t.Fatalf("body is not JSON: %q", resp.Body)
		}
		if e, ok := r.Body["error"].(map[string]any); ok {
			r.Code, _ = e["code"].(string)
		}
	}
	return r
}

// Fresh returns ev with the token of the identity it names now, if its
// Authorization header holds the placeholder or a token this package made
// for another identity (see Do); otherwise ev as it is.
func Fresh(t testing.TB, ev events.APIGatewayProxyRequest) events.APIGatewayProxyRequest {
	t.Helper()
	h := tenant.AuthorizationHeader(ev.Headers, ev.MultiValueHeaders)
	if h == SampleToken {
		return WithToken(t, ev)
	}
	tokensMu.Lock()
	made, ok := madeFor[h]
	tokensMu.Unlock()
	if ok && made != identityOf(ev).key() {
		return WithToken(t, ev)
	}
	return ev
}

// WithToken returns ev with a real ID token (see Do) in its Authorization
// header, and that user's sub as the authorizer's.
func WithToken(t testing.TB, ev events.APIGatewayProxyRequest) events.APIGatewayProxyRequest {
	t.Helper()
	id := identityOf(ev)
	tok, sub := tokenFor(t, id)
	SetAuthorization(&ev, "Bearer "+tok)
	a := map[string]any{}
	for k, v := range ev.RequestContext.Authorizer {
		a[k] = v
	}
	if claims, ok := a["claims"].(map[string]any); ok {
		c := map[string]any{}
		for k, v := range claims {
			c[k] = v
		}
		c["sub"] = sub
		a["claims"] = c
	} else if len(a) > 0 {
		a["principalId"], a["sub"] = sub, sub
	}
	ev.RequestContext.Authorizer = a
	tokensMu.Lock()
	madeFor["Bearer "+tok] = identityOf(ev).key()
	tokensMu.Unlock()
	return ev
}

// SetAuthorization replaces the event's Authorization header, in whatever
// case it was sent; "" removes it.
func SetAuthorization(ev *events.APIGatewayProxyRequest, v string) {
	for k := range ev.Headers {
		if strings.EqualFold(k, "Authorization") {
			delete(ev.Headers, k)
		}
	}
	for k := range ev.MultiValueHeaders {
		if strings.EqualFold(k, "Authorization") {
			delete(ev.MultiValueHeaders, k)
		}
	}
	if v == "" {
		return
	}
	if ev.Headers == nil {
		ev.Headers = map[string]string{}
	}
	ev.Headers["Authorization"] = v
	if ev.MultiValueHeaders != nil {
		ev.MultiValueHeaders["Authorization"] = []string{v}
	}
}

// identity is what a test user is made of. sub is the event's own sub: a
// test that gives two events different subs gets two users (their real subs
// are the pool's, see WithToken).
type identity struct {
	tenantID, role, sub string
	groups              []string
}

func (i identity) key() string {
	return i.tenantID + "\x00" + i.role + "\x00" + i.sub + "\x00" + strings.Join(i.groups, ",")
}

// identityOf reads the identity an event's authorizer output names.
func identityOf(ev events.APIGatewayProxyRequest) identity {
	a := ev.RequestContext.Authorizer
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	var id identity
	var groups string
	if claims, ok := a["claims"].(map[string]any); ok {
		id.tenantID, id.role, id.sub, groups = str(claims, tenant.ClaimTenantID), str(claims, tenant.ClaimRole), str(claims, "sub"), str(claims, tenant.ClaimGroups)
	} else {
		id.tenantID, id.role, id.sub, groups = str(a, "tenantId"), str(a, "role"), str(a, "sub"), str(a, "groups")
	}
	id.groups = tenant.ParseGroups(groups)
	slices.Sort(id.groups)
	return id
}

// password of the users Do makes (the local pool's policy and moto's).
const password = "Apievent-Passw0rd-Long"

var (
	tokensMu sync.Mutex
	tokens   = map[string]minted{} // by identity key
	// madeFor maps each Authorization header this package wrote to the
	// identity key of the event it wrote it into.
	madeFor = map[string]string{}
)

type minted struct {
	token, sub string
	exp        time.Time
}

// tokenFor returns the ID token and sub of a user with identity id, making
// and signing in the user on first use.
func tokenFor(t testing.TB, id identity) (string, string) {
	t.Helper()
	tokensMu.Lock()
	defer tokensMu.Unlock()
	if m, ok := tokens[id.key()]; ok && time.Until(m.exp) > 5*time.Minute {
		return m.token, m.sub
	}
	e := testenv.Setup(t)
	ctx := context.Background()
	idp := cip.NewFromConfig(e.Config)
	pool := e.Settings.UserPoolID
	email := "apievent-" + strings.ToLower(entityid.New()) + "@apievent.test"
	attrs := []ciptypes.AttributeType{
		{Name: aws.String("email"), Value: aws.String(email)},
		{Name: aws.String("email_verified"), Value: aws.String("true")},
	}
	if id.tenantID != "" {
		attrs = append(attrs, ciptypes.AttributeType{Name: aws.String(tenant.ClaimTenantID), Value: aws.String(id.tenantID)})
	}
	if id.role != "" {
		attrs = append(attrs, ciptypes.AttributeType{Name: aws.String(tenant.ClaimRole), Value: aws.String(id.role)})
	}
	if _, err := idp.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: &pool, Username: &email,
		MessageAction: ciptypes.MessageActionTypeSuppress, UserAttributes: attrs}); err != nil {
		t.Fatalf("apievent: create user: %v", err)
	}
	if _, err := idp.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{UserPoolId: &pool, Username: &email,
		Password: aws.String(password), Permanent: true}); err != nil {
		t.Fatalf("apievent: set password: %v", err)
	}
	for _, g := range id.groups {
		_, err := idp.CreateGroup(ctx, &cip.CreateGroupInput{UserPoolId: &pool, GroupName: aws.String(g)})
		var exists *ciptypes.GroupExistsException
		if err != nil && !errors.As(err, &exists) {
			t.Fatalf("apievent: create group %s: %v", g, err)
		}
		if _, err := idp.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: &pool, Username: &email, GroupName: aws.String(g)}); err != nil {
			t.Fatalf("apievent: add user to %s: %v", g, err)
		}
	}
	tok, err := idtoken.Login(ctx, idp, e.Settings.AppClientID, email, password)
	if err != nil {
		t.Fatalf("apievent: %v", err)
	}
	sub, exp, err := payload(tok)
	if err != nil {
		t.Fatalf("apievent: %v", err)
	}
	tokens[id.key()] = minted{token: tok, sub: sub, exp: exp}
	return tok, sub
}

// payload reads sub and exp of a token the pool just issued (no check: the
// handlers under test verify it).
func payload(tok string) (string, time.Time, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", time.Time{}, fmt.Errorf("token is not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", time.Time{}, fmt.Errorf("token payload: %w", err)
	}
	var c struct {
		Sub string  `json:"sub"`
		Exp float64 `json:"exp"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return "", time.Time{}, fmt.Errorf("token payload: %w", err)
	}
	return c.Sub, time.Unix(int64(c.Exp), 0), nil
}
