package provision_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tessera-saas/tessera/internal/control/apikey"
	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/provision"
	"github.com/tessera-saas/tessera/internal/control/tenantkey"
	"github.com/tessera-saas/tessera/internal/local/pump"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/apievent"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/order"
	"github.com/tessera-saas/tessera/internal/platform/product"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
	"github.com/tessera-saas/tessera/internal/wire"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

type harness struct {
	e   *testenv.Env
	ctx context.Context
}

func newHarness(t *testing.T) harness {
	return harness{e: testenv.Setup(t), ctx: context.Background()}
}

func (h harness) deps() provision.Deps { return wire.ProvisionerDeps(h.e.Config, h.e.Settings, quiet) }

// requested writes a PROVISIONING tenant as the operator API does (without
// publishing), and returns the onboarding event's detail.
func (h harness) requested(t *testing.T, tier catalog.Tier) bus.Detail {
	t.Helper()
	return h.requestedWith(t, tier, "")
}

func (h harness) requestedWith(t *testing.T, tier catalog.Tier, email string) bus.Detail {
	t.Helper()
	id := tenant.NewID()
	if email == "" {
		email = "admin-" + id[2:14] + "@prov.test"
	}
	now := time.Now().UTC()
	cat := h.deps().Catalog
	if err := cat.CreateTenant(h.ctx, catalog.Record{TenantID: id, Name: "T " + id, Tier: tier, Status: catalog.StatusProvisioning,
		AdminEmail: email, CreatedAt: now, UpdatedAt: now, Version: 1}); err != nil {
		t.Fatal(err)
	}
	return bus.Detail{SchemaVersion: bus.SchemaVersion, TenantID: id, Tier: string(tier), CorrelationID: "test-" + id, TenantName: "T", AdminEmail: email}
}

func (h harness) record(t *testing.T, id string) catalog.Record {
	t.Helper()
	rec, err := h.deps().Catalog.GetTenant(h.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// keysOf counts the enabled-or-pending KMS keys tagged with the tenant.
func (h harness) keysOf(t *testing.T, tenantID string) (usable int, all int) {
	t.Helper()
	c := kms.NewFromConfig(h.e.Config)
	p := kms.NewListKeysPaginator(c, &kms.ListKeysInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range page.Keys {
			tags, err := c.ListResourceTags(h.ctx, &kms.ListResourceTagsInput{KeyId: k.KeyId})
			if err != nil {
				continue
			}
			for _, tag := range tags.Tags {
				if aws.ToString(tag.TagKey) == "tenantId" && aws.ToString(tag.TagValue) == tenantID {
					all++
					d, err := c.DescribeKey(h.ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
					if err == nil && d.KeyMetadata.KeyState == kmstypes.KeyStateEnabled {
						usable++
					}
				}
			}
		}
	}
	return usable, all
}

func (h harness) user(t *testing.T, email string) (directory.User, bool) {
	t.Helper()
	u, err := directory.New(cip.NewFromConfig(h.e.Config), h.e.Settings.UserPoolID).Get(h.ctx, email)
	if err != nil {
		if strings.Contains(err.Error(), "UserNotFound") {
			return u, false
		}
		t.Fatal(err)
	}
	return u, true
}

func (h harness) assertActive(t *testing.T, d bus.Detail) catalog.Record {
	t.Helper()
	rec := h.record(t, d.TenantID)
	if rec.Status != catalog.StatusActive {
		t.Fatalf("tenant is %s (%s), want ACTIVE", rec.Status, rec.Reason)
	}
	if usable, all := h.keysOf(t, d.TenantID); usable != 1 {
		t.Fatalf("tenant has %d usable keys (%d in all), want exactly 1", usable, all)
	}
	if rec.Placement.KeyARN == "" {
		t.Fatal("no key in the placement")
	}
	u, ok := h.user(t, d.AdminEmail)
	if !ok || u.TenantID != d.TenantID || u.Role != tenant.RoleAdmin {
		t.Fatalf("admin user = %+v, %v", u, ok)
	}
	h.assertKeyIn(t, d.TenantID, rec.Tier)
	return rec
}

// assertKeyIn checks that the tenant has exactly one API key and that it is
// bound to the usage plan of tier and to no other plan.
func (h harness) assertKeyIn(t *testing.T, tenantID string, tier catalog.Tier) {
	t.Helper()
	api := apigateway.NewFromConfig(h.e.Config)
	name := apikey.Name(h.e.Settings.Stage, tenantID)
	out, err := api.GetApiKeys(h.ctx, &apigateway.GetApiKeysInput{NameQuery: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range out.Items {
		if aws.ToString(k.Name) == name {
			ids = append(ids, aws.ToString(k.Id))
			if k.Tags[access.TenantTag] != tenantID {
				t.Errorf("key %s tags %v, want %s=%s", aws.ToString(k.Id), k.Tags, access.TenantTag, tenantID)
			}
		}
	}
	if len(ids) != 1 {
		t.Fatalf("tenant has %d API keys named %s, want exactly 1", len(ids), name)
	}
	plans, err := apikey.New(api, h.e.Settings.Stage, h.e.Settings.UsagePlanIDs).Plans(h.ctx, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	if want := h.e.Settings.UsagePlanIDs[tier]; len(plans) != 1 || plans[0] != want {
		t.Fatalf("key is in plans %v, want only the %s plan %s", plans, tier, want)
	}
}

func TestPooledOnboardingIsIdempotent(t *testing.T) {
	h := newHarness(t)
	p := provision.New(h.deps())
	d := h.requested(t, catalog.TierBasic)
	for i := 0; i < 3; i++ { // a duplicated event changes nothing
		if err := p.Process(h.ctx, bus.TenantOnboardingRequested, d); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	rec := h.assertActive(t, d)
	if rec.Placement.Table != h.e.Settings.PooledTable || rec.Placement.Dedicated {
		t.Fatalf("placement %+v, want the pooled table", rec.Placement)
	}
}

func TestPremiumOnboardingGetsADedicatedTable(t *testing.T) {
	h := newHarness(t)
	deps := h.deps()
	p := provision.New(deps)
	d := h.requested(t, catalog.TierPremium)
	if err := processUntilDone(h.ctx, t, p, bus.TenantOnboardingRequested, d); err != nil {
		t.Fatal(err)
	}
	rec := h.assertActive(t, d)
	if !rec.Placement.Dedicated || rec.Placement.Table != access.DedicatedTable(h.e.Settings.Stage, d.TenantID) {
		t.Fatalf("placement %+v, want the dedicated table", rec.Placement)
	}
	// Data of the premium tenant lands in its table and nowhere in the pooled one.
	data := as(t, deps.Data, rec)
	pr, err := data.CreateProduct(h.ctx, product.Input{Name: "Widget", SKU: "W-1", Price: &product.Price{Amount: 5, Currency: "EUR"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := data.CreateOrder(h.ctx, order.Input{ProductID: pr.ID, Quantity: 1, Status: order.StatusPending, Customer: &order.Customer{Name: "C", Email: "c@x.test"}}); err != nil {
		t.Fatal(err)
	}
	ddb := dynamodb.NewFromConfig(h.e.Config)
	count := func(table string) int {
		n := 0
		for _, e := range []string{"PRODUCT", "SKU", "ORDER", "USER"} {
			out, err := ddb.Query(h.ctx, &dynamodb.QueryInput{TableName: aws.String(table), KeyConditionExpression: aws.String("pk = :pk"),
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": &ddbtypes.AttributeValueMemberS{Value: d.TenantID + "#" + e}}, Select: ddbtypes.SelectCount})
			if err != nil {
				t.Fatal(err)
			}
			n += int(out.Count)
		}
		return n
	}
	if n := count(rec.Placement.Table); n != 5 { // product, its two sku reservations (W-1, w-1), order, admin user record
		t.Fatalf("dedicated table holds %d items of the tenant, want 5", n)
	}
	if n := count(h.e.Settings.PooledTable); n != 0 {
		t.Fatalf("pooled table holds %d items of the premium tenant", n)
	}
}

// slowStacks reports a stack as still being created for the first n looks,
// as CloudFormation does in AWS (the emulator completes at once).
type slowStacks struct {
	provision.CloudFormation
	looks atomic.Int32
	n     int32
}

func (s *slowStacks) DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, o ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	out, err := s.CloudFormation.DescribeStacks(ctx, in, o...)
	if err != nil || s.looks.Add(1) > s.n {
		return out, err
	}
	for i := range out.Stacks {
		out.Stacks[i].StackStatus = cfntypes.StackStatusCreateInProgress
		out.Stacks[i].Outputs = nil
	}
	return out, nil
}

func TestPremiumWaitsForAStackInProgressWithoutBlocking(t *testing.T) {
	h := newHarness(t)
	deps := h.deps()
	q := sqs.NewFromConfig(h.e.Config)
	qo, err := q.CreateQueue(h.ctx, &sqs.CreateQueueInput{QueueName: aws.String("checks-" + tenant.NewID()[2:14])})
	if err != nil {
		t.Fatal(err)
	}
	deps.QueueURL, deps.CheckDelay = aws.ToString(qo.QueueUrl), time.Second
	stacks := &slowStacks{CloudFormation: deps.Stacks, n: 3}
	deps.Stacks = stacks
	p := provision.New(deps)
	d := h.requested(t, catalog.TierPremium)

	ev := events.SQSEvent{Records: []events.SQSMessage{sqsRecord(t, bus.TenantOnboardingRequested, d, 1)}}
	checks := 0
	for rounds := 0; rounds < 10; rounds++ {
		start := time.Now()
		resp, err := p.Handle(h.ctx, ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("round %d: %v %+v", rounds, err, resp)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("a delivery held the function for %s", time.Since(start))
		}
		if h.record(t, d.TenantID).Status == catalog.StatusActive {
			break
		}
		// The provisioner scheduled a delayed re-check on its queue.
		msg, err := q.ReceiveMessage(h.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(deps.QueueURL), WaitTimeSeconds: 3, MaxNumberOfMessages: 1})
		if err != nil || len(msg.Messages) != 1 {
			t.Fatalf("round %d: no re-check scheduled (%v)", rounds, err)
		}
		env, err := bus.Parse([]byte(aws.ToString(msg.Messages[0].Body)))
		if err != nil || env.DetailType != string(bus.TenantProvisioningCheck) || env.Detail.TenantID != d.TenantID {
			t.Fatalf("re-check message = %+v, %v", env, err)
		}
		checks++
		q.DeleteMessage(h.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(deps.QueueURL), ReceiptHandle: msg.Messages[0].ReceiptHandle})
		ev = events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(msg.Messages[0].MessageId), Body: aws.ToString(msg.Messages[0].Body),
			Attributes: map[string]string{"ApproximateReceiveCount": "1"}}}}
	}
	if checks != 3 {
		t.Fatalf("%d re-checks, want 3 (the stack was in progress for 3 looks)", checks)
	}
	rec := h.assertActive(t, d)
	if !rec.Placement.Dedicated {
		t.Fatalf("placement %+v", rec.Placement)
	}
}

func sqsRecord(t *testing.T, dt bus.DetailType, d bus.Detail, receive int) events.SQSMessage {
	t.Helper()
	detail, _ := json.Marshal(d)
	body, _ := json.Marshal(map[string]any{"version": "0", "id": "e-" + d.TenantID, "detail-type": string(dt), "source": bus.Source,
		"account": "123456789012", "time": time.Now().UTC().Format(time.RFC3339), "region": "us-east-1", "resources": []string{}, "detail": json.RawMessage(detail)})
	return events.SQSMessage{MessageId: fmt.Sprintf("m-%s-%d", d.TenantID, receive), Body: string(body),
		Attributes: map[string]string{"ApproximateReceiveCount": fmt.Sprint(receive)}}
}

// crashAfter wraps the provisioner's clients so that exactly one call fails:
// either before it reaches AWS, or after it succeeded (a crash between the
// call and the next step).
type crashAfter struct {
	op    string
	after bool
	fired atomic.Bool
}

var errCrash = errors.New("injected crash")

func (c *crashAfter) hit(op string) bool {
	return op == c.op && c.fired.CompareAndSwap(false, true)
}

type crashKMS struct {
	tenantkey.KMS
	c *crashAfter
}

func (k crashKMS) CreateKey(ctx context.Context, in *kms.CreateKeyInput, o ...func(*kms.Options)) (*kms.CreateKeyOutput, error) {
	out, err := k.KMS.CreateKey(ctx, in, o...)
	if k.c.hit("CreateKey") {
		return nil, errCrash // the key exists, but the caller never learns its id
	}
	return out, err
}

func (k crashKMS) CreateAlias(ctx context.Context, in *kms.CreateAliasInput, o ...func(*kms.Options)) (*kms.CreateAliasOutput, error) {
	if !k.c.after && k.c.hit("CreateAlias") {
		return nil, errCrash
	}
	out, err := k.KMS.CreateAlias(ctx, in, o...)
	if k.c.after && k.c.hit("CreateAlias") {
		return nil, errCrash
	}
	return out, err
}

type crashStacks struct {
	provision.CloudFormation
	c *crashAfter
}

func (s crashStacks) CreateStack(ctx context.Context, in *cloudformation.CreateStackInput, o ...func(*cloudformation.Options)) (*cloudformation.CreateStackOutput, error) {
	out, err := s.CloudFormation.CreateStack(ctx, in, o...)
	if s.c.hit("CreateStack") {
		return nil, errCrash
	}
	return out, err
}

type crashCognito struct {
	directory.Cognito
	c *crashAfter
}

func (k crashCognito) AdminCreateUser(ctx context.Context, in *cip.AdminCreateUserInput, o ...func(*cip.Options)) (*cip.AdminCreateUserOutput, error) {
	out, err := k.Cognito.AdminCreateUser(ctx, in, o...)
	if k.c.hit("AdminCreateUser") {
		return nil, errCrash
	}
	return out, err
}

type crashAPIGateway struct {
	apikey.API
	c *crashAfter
}

func (a crashAPIGateway) CreateApiKey(ctx context.Context, in *apigateway.CreateApiKeyInput, o ...func(*apigateway.Options)) (*apigateway.CreateApiKeyOutput, error) {
	out, err := a.API.CreateApiKey(ctx, in, o...)
	if a.c.hit("CreateApiKey") {
		return nil, errCrash // the key exists, its id is lost
	}
	return out, err
}

func (a crashAPIGateway) CreateUsagePlanKey(ctx context.Context, in *apigateway.CreateUsagePlanKeyInput, o ...func(*apigateway.Options)) (*apigateway.CreateUsagePlanKeyOutput, error) {
	out, err := a.API.CreateUsagePlanKey(ctx, in, o...)
	if a.c.hit("CreateUsagePlanKey") {
		return nil, errCrash
	}
	return out, err
}

type crashDynamo struct {
	store.DynamoDB
	c *crashAfter
}

func (d crashDynamo) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	out, err := d.DynamoDB.TransactWriteItems(ctx, in, o...)
	if d.c.hit("TransactWriteItems") {
		return nil, errCrash // the state change happened; its caller died
	}
	return out, err
}

func TestCrashBetweenAnyTwoStepsEndsActive(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		tier  catalog.Tier
		op    string
		after bool
	}{
		{catalog.TierBasic, "CreateKey", true},
		{catalog.TierBasic, "CreateAlias", false},
		{catalog.TierBasic, "CreateAlias", true},
		{catalog.TierPremium, "CreateStack", true},
		{catalog.TierBasic, "CreateApiKey", true},
		{catalog.TierBasic, "CreateUsagePlanKey", true},
		{catalog.TierBasic, "AdminCreateUser", true},
		{catalog.TierBasic, "TransactWriteItems", true},
		{catalog.TierPremium, "TransactWriteItems", true},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%s/after=%v", tc.tier, tc.op, tc.after), func(t *testing.T) {
			c := &crashAfter{op: tc.op, after: tc.after}
			deps := h.deps()
			deps.Keys = crashKMS{KMS: deps.Keys, c: c}
			deps.Stacks = crashStacks{CloudFormation: deps.Stacks, c: c}
			deps.APIKeys = apikey.New(crashAPIGateway{API: apigateway.NewFromConfig(h.e.Config), c: c}, h.e.Settings.Stage, h.e.Settings.UsagePlanIDs)
			deps.Users = directory.New(crashCognito{Cognito: cip.NewFromConfig(h.e.Config), c: c}, h.e.Settings.UserPoolID)
			deps.Users.Invite = false
			deps.Catalog = store.NewCatalog(crashDynamo{DynamoDB: store.NewClient(h.e.Config), c: c}, h.e.Settings.CatalogTable)
			d := h.requested(t, tc.tier)
			p := provision.New(deps)
			err := p.Process(h.ctx, bus.TenantOnboardingRequested, d)
			if !c.fired.Load() {
				t.Fatalf("the crash at %s never happened (err %v)", tc.op, err)
			}
			// The retry (SQS redelivers after the crash) finishes the job.
			for i := 0; i < 3 && h.record(t, d.TenantID).Status != catalog.StatusActive; i++ {
				if err := processUntilDone(h.ctx, t, provision.New(h.deps()), bus.TenantOnboardingRequested, d); err != nil {
					t.Fatalf("retry %d: %v", i, err)
				}
			}
			rec := h.assertActive(t, d)
			if tc.tier == catalog.TierPremium {
				out, err := cloudformation.NewFromConfig(h.e.Config).DescribeStacks(h.ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(provision.StackName(h.e.Settings.Stage, d.TenantID))})
				if err != nil || len(out.Stacks) != 1 || !rec.Placement.Dedicated {
					t.Fatalf("stacks = %v, %v; placement %+v", out, err, rec.Placement)
				}
			}
		})
	}
}

func TestRacingProvisionersEndInOneOfEverything(t *testing.T) {
	h := newHarness(t)
	for _, tier := range []catalog.Tier{catalog.TierBasic, catalog.TierPremium} {
		d := h.requested(t, tier)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = provision.New(h.deps()).Process(h.ctx, bus.TenantOnboardingRequested, d)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil && !errors.Is(err, provision.ErrLater) {
				t.Fatalf("racer: %v", err)
			}
		}
		// Whoever lost the lease retries later, as SQS would redeliver
		// (until the stack, which LocalStack makes asynchronously, is
		// done).
		if h.record(t, d.TenantID).Status != catalog.StatusActive {
			if err := processUntilDone(h.ctx, t, provision.New(h.deps()), bus.TenantOnboardingRequested, d); err != nil {
				t.Fatal(err)
			}
		}
		h.assertActive(t, d)
	}
}

func TestRetryBudgetEndsFailedWithReason(t *testing.T) {
	h := newHarness(t)
	deps := h.deps()
	deps.Users = directory.New(alwaysFailingCognito{Cognito: cip.NewFromConfig(h.e.Config)}, h.e.Settings.UserPoolID)
	p := provision.New(deps)
	d := h.requested(t, catalog.TierBasic)
	for attempt := 1; attempt <= provision.MaxAttempts; attempt++ {
		resp, _ := p.Handle(h.ctx, events.SQSEvent{Records: []events.SQSMessage{sqsRecord(t, bus.TenantOnboardingRequested, d, attempt)}})
		st := h.record(t, d.TenantID).Status
		if attempt < provision.MaxAttempts && (len(resp.BatchItemFailures) != 1 || st != catalog.StatusProvisioning) {
			t.Fatalf("attempt %d: failures %v, status %s; want a retry", attempt, resp.BatchItemFailures, st)
		}
		if attempt == provision.MaxAttempts && len(resp.BatchItemFailures) != 0 {
			t.Fatalf("last attempt still asks for a retry")
		}
	}
	rec := h.record(t, d.TenantID)
	if rec.Status != catalog.StatusFailed || !strings.Contains(rec.Reason, "unavailable") {
		t.Fatalf("after the budget: %s %q, want FAILED with the reason", rec.Status, rec.Reason)
	}
	audit, err := deps.Catalog.AuditTrail(h.ctx, d.TenantID)
	if err != nil || len(audit) == 0 || audit[len(audit)-1].Action != "provisioning-failed" {
		t.Fatalf("audit = %+v, %v", audit, err)
	}
}

type alwaysFailingCognito struct{ directory.Cognito }

func (alwaysFailingCognito) AdminCreateUser(context.Context, *cip.AdminCreateUserInput, ...func(*cip.Options)) (*cip.AdminCreateUserOutput, error) {
	return nil, errors.New("cognito unavailable")
}

func TestAdminOfAnotherTenantFailsAtOnce(t *testing.T) {
	h := newHarness(t)
	p := provision.New(h.deps())
	first := h.requested(t, catalog.TierBasic)
	if err := p.Process(h.ctx, bus.TenantOnboardingRequested, first); err != nil {
		t.Fatal(err)
	}
	second := h.requestedWith(t, catalog.TierBasic, first.AdminEmail)
	resp, err := p.Handle(h.ctx, events.SQSEvent{Records: []events.SQSMessage{sqsRecord(t, bus.TenantOnboardingRequested, second, 1)}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("a permanent failure is not retried: %v %+v", err, resp)
	}
	if rec := h.record(t, second.TenantID); rec.Status != catalog.StatusFailed || !strings.Contains(rec.Reason, "another tenant") {
		t.Fatalf("second tenant = %s %q", rec.Status, rec.Reason)
	}
	if u, _ := h.user(t, first.AdminEmail); u.TenantID != first.TenantID {
		t.Fatalf("the first tenant's admin moved to %s", u.TenantID)
	}
}

// TestOnboardingThroughTheBus runs the whole path as in AWS: the operator
// API records the tenant and publishes TenantOnboardingRequested, the bus
// rule delivers it to the provisioning queue, and the queue feeds the
// provisioner (here through the local pump instead of Lambda's event source).
func TestOnboardingThroughTheBus(t *testing.T) {
	h := newHarness(t)
	prov := wire.NewProvisioner(h.e.Config, h.e.Settings, quiet)
	p := pump.New(sqs.NewFromConfig(h.e.Config), h.e.Settings.ProvisioningQueueURL, prov.Handle, pump.WithLogger(quiet))
	tenants := wire.NewTenants(h.e.Config, h.e.Settings, quiet)
	for _, tier := range []string{"basic", "premium"} {
		email := "bus-" + tier + "-" + tenant.NewID()[2:12] + "@bus.test"
		ev := events.APIGatewayProxyRequest{HTTPMethod: "POST", Resource: "/v1/tenants",
			Headers: map[string]string{"Content-Type": "application/json", "Idempotency-Key": email},
			Body:    `{"name":"Bus ` + tier + `","tier":"` + tier + `","adminEmail":"` + email + `"}`}
		ev.RequestContext.RequestID = "corr-" + tier
		ev.RequestContext.Authorizer = map[string]any{"claims": map[string]any{"sub": "op", "email": "op@tessera.test", "cognito:groups": "operators"}}
		ev = apievent.WithToken(t, ev) // the operator API verifies a real operator's token
		resp, err := tenants.Handle(h.ctx, ev)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("create %s: %v %d %s", tier, err, resp.StatusCode, resp.Body)
		}
		var created catalog.Record
		if err := json.Unmarshal([]byte(resp.Body), &created); err != nil {
			t.Fatal(err)
		}
		// In AWS and on LocalStack a premium tenant's stack is still being
		// made at the first delivery: the provisioner sends itself a delayed
		// re-check, which a later drain delivers (moto's stack is made at once).
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
			if _, err := p.Drain(h.ctx, 10); err != nil {
				t.Fatalf("drain: %v", err)
			}
			if h.record(t, created.TenantID).Status != catalog.StatusProvisioning || time.Now().After(deadline) {
				break
			}
		}
		rec := h.assertActive(t, bus.Detail{TenantID: created.TenantID, AdminEmail: email})
		if (tier == "premium") != rec.Placement.Dedicated {
			t.Fatalf("%s placement %+v", tier, rec.Placement)
		}
		// The outbox is empty: every event was published.
		left, err := prov.Outbox.Sweep(h.ctx, -time.Hour, 100)
		if err != nil || left != 0 {
			t.Fatalf("outbox still held %d events (%v)", left, err)
		}
	}
}

// TestTierChangeMovesTheKeyToTheNewPlan follows a tenant's API key through
// tier changes: each TenantTierChanged leaves the key in the plan of the tier
// the catalog holds, and in no other, however often the event comes.
func TestTierChangeMovesTheKeyToTheNewPlan(t *testing.T) {
	h := newHarness(t)
	deps := h.deps()
	deps.Backups = &scriptedJobs{} // no migration here (TestTierChangeRunsTheMigration)
	p := provision.New(deps)
	d := h.requested(t, catalog.TierBasic)
	if err := p.Process(h.ctx, bus.TenantOnboardingRequested, d); err != nil {
		t.Fatal(err)
	}
	h.assertActive(t, d)
	cat := h.deps().Catalog
	for _, to := range []catalog.Tier{catalog.TierStandard, catalog.TierPremium, catalog.TierBasic} {
		if _, err := cat.Apply(h.ctx, d.TenantID, store.Change{From: []catalog.Status{catalog.StatusActive}, Tier: to}, nil, nil); err != nil {
			t.Fatalf("change tier to %s: %v", to, err)
		}
		ev := d
		ev.Tier = string(to)
		for i := 0; i < 2; i++ { // a redelivered event changes nothing
			if err := p.Process(h.ctx, bus.TenantTierChanged, ev); err != nil {
				t.Fatalf("to %s, run %d: %v", to, i, err)
			}
		}
		h.assertKeyIn(t, d.TenantID, to)
	}
	// A stale event (the catalog says basic) does not move the key away.
	stale := d
	stale.Tier = string(catalog.TierPremium)
	if err := p.Process(h.ctx, bus.TenantTierChanged, stale); err != nil {
		t.Fatal(err)
	}
	h.assertKeyIn(t, d.TenantID, catalog.TierBasic)
}

// TestMissingUsagePlanFailsOnboardingForGood: a deployment that names no plan
// for the tenant's tier is a configuration error; the tenant ends FAILED
// with the reason instead of retrying forever.
func TestMissingUsagePlanFailsOnboardingForGood(t *testing.T) {
	h := newHarness(t)
	deps := h.deps()
	plans := map[catalog.Tier]string{catalog.TierBasic: h.e.Settings.UsagePlanIDs[catalog.TierBasic]}
	deps.APIKeys = apikey.New(apigateway.NewFromConfig(h.e.Config), h.e.Settings.Stage, plans)
	d := h.requested(t, catalog.TierStandard)
	resp, err := provision.New(deps).Handle(h.ctx, events.SQSEvent{Records: []events.SQSMessage{sqsRecord(t, bus.TenantOnboardingRequested, d, 1)}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v; want the message consumed", resp, err)
	}
	rec := h.record(t, d.TenantID)
	if rec.Status != catalog.StatusFailed || !strings.Contains(rec.Reason, "usage plan") {
		t.Fatalf("tenant is %s (%q), want FAILED naming the usage plan", rec.Status, rec.Reason)
	}
}
