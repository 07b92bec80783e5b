package provision_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/provision"
	"github.com/tessera-saas/tessera/internal/control/tenantstack"
	"github.com/tessera-saas/tessera/internal/local/emulator"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// The TenantStack template rollout's stack part (issue 15): Tables.Update
// moves a tenant's stack from the previous template version
// (tenantstack.PreviousTemplateBody) to the checked-in one, in place.
//
// Neither emulator rolls a failed update back: moto's CloudFormation has no
// rollback and no failed status, and LocalStack's UpdateStack reports
// UPDATE_COMPLETE even when a resource failed (its outputs lost). So the
// failure CloudFormation reports in AWS, UPDATE_ROLLBACK_COMPLETE, is
// played by a wrapper that reports the statuses AWS would
// (TestStackUpdateThatCloudFormationRollsBackFails); the failure both
// emulators really produce is a tenant without a stack
// (TestStackUpdateOfATenantWithoutAStackFails).

// stackKeyARN is the KeyArn parameter of the stacks made here: the
// emulators' tables do not use it.
const stackKeyARN = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"

// stackFixture is one tenant's TenantStack on the emulator.
type stackFixture struct {
	h        harness
	tenantID string
	name     string // stack and table
	cfn      *cloudformation.Client
	ddb      *dynamodb.Client
}

func newStackFixture(t *testing.T) stackFixture {
	t.Helper()
	h := newHarness(t)
	id := tenant.NewID()
	return stackFixture{h: h, tenantID: id, name: provision.StackName(h.e.Settings.Stage, id),
		cfn: cloudformation.NewFromConfig(h.e.Config), ddb: dynamodb.NewFromConfig(h.e.Config)}
}

func (f stackFixture) tables(stacks provision.CloudFormation) provision.Tables {
	if stacks == nil {
		stacks = f.cfn
	}
	return provision.Tables{Stacks: stacks, Settings: f.h.e.Settings, Poll: 100 * time.Millisecond}
}

func (f stackFixture) record() catalog.Record {
	return catalog.Record{TenantID: f.tenantID, Tier: catalog.TierPremium, Placement: catalog.Placement{KeyARN: stackKeyARN}}
}

// createPreviousStack makes the tenant's stack on the previous template as
// the provisioner did before templates had versions: tags tenantId and
// stage (and an operator's own tag), no version tag.
func (f stackFixture) createPreviousStack(t *testing.T) {
	t.Helper()
	param := func(k, v string) cfntypes.Parameter {
		return cfntypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)}
	}
	if _, err := f.cfn.CreateStack(f.h.ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String(f.name),
		TemplateBody: aws.String(tenantstack.PreviousTemplateBody()),
		Parameters: []cfntypes.Parameter{
			param(tenantstack.ParamStage, f.h.e.Settings.Stage), param(tenantstack.ParamTenantID, f.tenantID),
			param(tenantstack.ParamKeyArn, stackKeyARN),
			param(tenantstack.ParamChangeFeedFunctionArn, ""), param(tenantstack.ParamChangeFeedDLQArn, ""),
		},
		Tags: []cfntypes.Tag{
			{Key: aws.String(access.TenantTag), Value: aws.String(f.tenantID)},
			{Key: aws.String(access.StageTag), Value: aws.String(f.h.e.Settings.Stage)},
			{Key: aws.String("owner"), Value: aws.String("ops")},
		},
		OnFailure: cfntypes.OnFailureDelete,
	}); err != nil {
		t.Fatalf("CreateStack on template %s: %v", tenantstack.PreviousVersion(), err)
	}
	if err := cloudformation.NewStackCreateCompleteWaiter(f.cfn, func(o *cloudformation.StackCreateCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	}).Wait(f.h.ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(f.name)}, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
}

func (f stackFixture) stack(t *testing.T) cfntypes.Stack {
	t.Helper()
	out, err := f.cfn.DescribeStacks(f.h.ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(f.name)})
	if err != nil || len(out.Stacks) != 1 {
		t.Fatalf("describe stack %s: %v", f.name, err)
	}
	return out.Stacks[0]
}

// putItems writes n items of the tenant into its table.
func (f stackFixture) putItems(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		if _, err := f.ddb.PutItem(f.h.ctx, &dynamodb.PutItemInput{TableName: aws.String(f.name), Item: map[string]ddbtypes.AttributeValue{
			"pk":   &ddbtypes.AttributeValueMemberS{Value: f.tenantID + "#PRODUCT"},
			"sk":   &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("p-%03d", i)},
			"name": &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("Widget %d", i)},
		}}); err != nil {
			t.Fatalf("put item %d: %v", i, err)
		}
	}
}

// tableState is what shows that the table is the same one, with the same
// items: its creation time and stream (a replaced table has new ones) and
// its items' names.
type tableState struct {
	created time.Time
	stream  string
	items   []string
}

func (f stackFixture) table(t *testing.T) tableState {
	t.Helper()
	d, err := f.ddb.DescribeTable(f.h.ctx, &dynamodb.DescribeTableInput{TableName: aws.String(f.name)})
	if err != nil {
		t.Fatalf("describe table %s: %v", f.name, err)
	}
	s := tableState{created: aws.ToTime(d.Table.CreationDateTime), stream: aws.ToString(d.Table.LatestStreamArn)}
	out, err := f.ddb.Query(f.h.ctx, &dynamodb.QueryInput{TableName: aws.String(f.name), KeyConditionExpression: aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": &ddbtypes.AttributeValueMemberS{Value: f.tenantID + "#PRODUCT"}}})
	if err != nil {
		t.Fatalf("query %s: %v", f.name, err)
	}
	for _, it := range out.Items {
		name, _ := it["name"].(*ddbtypes.AttributeValueMemberS)
		if name != nil {
			s.items = append(s.items, name.Value)
		}
	}
	return s
}

func (s tableState) String() string {
	return fmt.Sprintf("created %s, stream %s, %d items", s.created.Format(time.RFC3339Nano), s.stream, len(s.items))
}

func (s tableState) equal(o tableState) bool {
	return s.created.Equal(o.created) && s.stream == o.stream && strings.Join(s.items, "|") == strings.Join(o.items, "|")
}

func tagsOf(st cfntypes.Stack) map[string]string {
	m := map[string]string{}
	for _, tag := range st.Tags {
		m[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	return m
}

func paramsOf(st cfntypes.Stack) map[string]string {
	m := map[string]string{}
	for _, p := range st.Parameters {
		m[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	return m
}

func outputsOf(st cfntypes.Stack) map[string]string {
	m := map[string]string{}
	for _, o := range st.Outputs {
		m[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return m
}

// recordingStacks records the UpdateStack requests and their answers.
type recordingStacks struct {
	provision.CloudFormation
	mu      sync.Mutex
	updates []*cloudformation.UpdateStackInput
	answers []error
}

func (s *recordingStacks) UpdateStack(ctx context.Context, in *cloudformation.UpdateStackInput, o ...func(*cloudformation.Options)) (*cloudformation.UpdateStackOutput, error) {
	out, err := s.CloudFormation.UpdateStack(ctx, in, o...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updates, s.answers = append(s.updates, in), append(s.answers, err)
	return out, err
}

// TestStackUpdateMovesAPreviousVersionStackInPlace: a stack made on the
// previous template before versions were recorded (version 1), with items
// in its table, is updated to the checked-in template: the same table
// (creation time, stream) with the same items, every parameter kept, the
// template and its TemplateVersion output at the new version. Updating it
// again is a no-op.
func TestStackUpdateMovesAPreviousVersionStackInPlace(t *testing.T) {
	f := newStackFixture(t)
	f.createPreviousStack(t)
	f.putItems(t, 30)
	rec := &recordingStacks{CloudFormation: f.cfn}
	tables := f.tables(rec)
	if v, err := tables.StackVersion(f.h.ctx, f.tenantID); err != nil || v != tenantstack.PreviousVersion() || v != tenantstack.FirstVersion {
		t.Fatalf("StackVersion before = %q, %v; want %s (no output, no tag)", v, err, tenantstack.FirstVersion)
	}
	before, beforeStack := f.table(t), f.stack(t)

	began := time.Now()
	v, err := tables.Update(f.h.ctx, f.tenantID)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	t.Logf("%s: update %s -> %s took %s", testenv.Engine(t), tenantstack.PreviousVersion(), v, time.Since(began).Round(time.Millisecond))
	if v != tenantstack.Version() || v == tenantstack.PreviousVersion() {
		t.Fatalf("Update = %q, want %s", v, tenantstack.Version())
	}

	// The request: the new template, every parameter's previous value,
	// the version tag with the others kept, a token of the tenant and the
	// version, rollback on.
	if len(rec.updates) != 1 || rec.answers[0] != nil {
		t.Fatalf("UpdateStack calls %d (answers %v), want one accepted", len(rec.updates), rec.answers)
	}
	in := rec.updates[0]
	if aws.ToString(in.TemplateBody) != tenantstack.TemplateBody() || aws.ToBool(in.DisableRollback) ||
		aws.ToString(in.ClientRequestToken) != "update-"+f.tenantID+"-v"+v {
		t.Errorf("UpdateStack: token %q, rollback disabled %v, current template %v", aws.ToString(in.ClientRequestToken),
			aws.ToBool(in.DisableRollback), aws.ToString(in.TemplateBody) == tenantstack.TemplateBody())
	}
	var kept []string
	for _, p := range in.Parameters {
		if !aws.ToBool(p.UsePreviousValue) || p.ParameterValue != nil {
			t.Errorf("parameter %s: UsePreviousValue %v, value %v", aws.ToString(p.ParameterKey), aws.ToBool(p.UsePreviousValue), p.ParameterValue)
		}
		kept = append(kept, aws.ToString(p.ParameterKey))
	}
	if want := "ChangeFeedDLQArn,ChangeFeedFunctionArn,KeyArn,Stage,TenantId"; strings.Join(kept, ",") != want {
		t.Errorf("parameters %v, want %s", kept, want)
	}
	if len(in.Tags) != 0 {
		t.Errorf("UpdateStack sent tags %v: it keeps the stack's (no tagging permission needed)", in.Tags)
	}

	// The stack: complete, at the new version, same parameters and table.
	st := f.stack(t)
	outs := outputsOf(st)
	if st.StackStatus != cfntypes.StackStatusUpdateComplete || outs[tenantstack.OutputTemplateVersion] != v || outs[tenantstack.OutputTableName] != f.name {
		t.Fatalf("stack after the update: %s, outputs %v", st.StackStatus, outs)
	}
	if fmt.Sprint(paramsOf(st)) != fmt.Sprint(paramsOf(beforeStack)) {
		t.Errorf("parameters %v after the update, were %v", paramsOf(st), paramsOf(beforeStack))
	}
	tmpl, err := f.cfn.GetTemplate(f.h.ctx, &cloudformation.GetTemplateInput{StackName: aws.String(f.name)})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tenantstack.VersionOf([]byte(aws.ToString(tmpl.TemplateBody))); err != nil || got != v {
		t.Errorf("the stack's template records version %q (%v), want %s", got, err, v)
	}
	tags := tagsOf(st)
	if tags["owner"] != "ops" || tags[access.TenantTag] != f.tenantID {
		t.Errorf("stack tags %v: the tenant's and the operator's tags must stay", tags)
	}
	if testenv.Engine(t) == emulator.LocalStack {
		// LocalStack made the new resources, the alarms (moto's
		// CloudFormation skips AWS::CloudWatch::Alarm).
		res, err := f.cfn.DescribeStackResources(f.h.ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String(f.name)})
		if err != nil {
			t.Fatal(err)
		}
		alarms := map[string]string{}
		for _, r := range res.StackResources {
			if aws.ToString(r.ResourceType) == "AWS::CloudWatch::Alarm" {
				alarms[aws.ToString(r.PhysicalResourceId)] = string(r.ResourceStatus)
			}
		}
		if want := fmt.Sprint(map[string]string{f.name + "-read-throttles": "CREATE_COMPLETE", f.name + "-write-throttles": "CREATE_COMPLETE"}); fmt.Sprint(alarms) != want {
			t.Errorf("alarms %v, want %s", alarms, want)
		}
	}

	// In place: the same table, every item.
	if after := f.table(t); !after.equal(before) || len(after.items) != 30 {
		t.Fatalf("table after the update: %s; before: %s", after, before)
	}
	if got, err := tables.StackVersion(f.h.ctx, f.tenantID); err != nil || got != v {
		t.Fatalf("StackVersion = %q, %v; want %s", got, err, v)
	}

	// Again: CloudFormation has nothing to do, and Update says so with the
	// version.
	if v2, err := tables.Update(f.h.ctx, f.tenantID); err != nil || v2 != v {
		t.Fatalf("second Update = %q, %v; want %s", v2, err, v)
	}
	if len(rec.answers) != 2 || rec.answers[1] == nil || !strings.Contains(rec.answers[1].Error(), "No updates are to be performed") {
		t.Fatalf("second UpdateStack answered %v, want CloudFormation's no-op", rec.answers[1:])
	}
	if st := f.stack(t); st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("stack %s after the no-op", st.StackStatus)
	}
}

// TestOnboardingRecordsTheStackTemplateVersion: a premium tenant onboarded now
// gets a stack at the checked-in version (output and tag) and a placement
// that says so; the rollout has nothing to do for it.
func TestOnboardingRecordsTheStackTemplateVersion(t *testing.T) {
	h := newHarness(t)
	p := provision.New(h.deps())
	d := h.requested(t, catalog.TierPremium)
	if err := processUntilDone(h.ctx, t, p, bus.TenantOnboardingRequested, d); err != nil {
		t.Fatal(err)
	}
	rec := h.assertActive(t, d)
	if !rec.Placement.Dedicated || rec.Placement.Template != tenantstack.Version() {
		t.Fatalf("placement %+v, want template %s", rec.Placement, tenantstack.Version())
	}
	cfn := cloudformation.NewFromConfig(h.e.Config)
	out, err := cfn.DescribeStacks(h.ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(provision.StackName(h.e.Settings.Stage, d.TenantID))})
	if err != nil {
		t.Fatal(err)
	}
	st := out.Stacks[0]
	if tags := tagsOf(st); tags[access.TenantTag] != d.TenantID || tags[access.StageTag] != h.e.Settings.Stage || outputsOf(st)[tenantstack.OutputTemplateVersion] != tenantstack.Version() {
		t.Errorf("stack tags %v, outputs %v, want tenant, stage and version %s", tags, outputsOf(st), tenantstack.Version())
	}
	rs := &recordingStacks{CloudFormation: cfn}
	tables := provision.Tables{Stacks: rs, Settings: h.e.Settings, Poll: 100 * time.Millisecond}
	if v, err := tables.Update(h.ctx, d.TenantID); err != nil || v != tenantstack.Version() {
		t.Fatalf("Update = %q, %v; want %s", v, err, tenantstack.Version())
	}
	if len(rs.answers) != 1 || rs.answers[0] == nil || !strings.Contains(rs.answers[0].Error(), "No updates are to be performed") {
		t.Fatalf("UpdateStack answered %v, want CloudFormation's no-op", rs.answers)
	}
}

// TestStackUpdateOfATenantWithoutAStackFails: the failure both emulators
// really produce, and the lead's recipe for a rollout that must halt: a
// dedicated tenant whose table has no TenantStack (made outside
// CloudFormation, or its stack deleted). CloudFormation has nothing to
// update: Update fails with ErrStackNotUpdatable and touches nothing.
func TestStackUpdateOfATenantWithoutAStackFails(t *testing.T) {
	t.Run("table without a stack", func(t *testing.T) {
		f := newStackFixture(t)
		if _, err := f.ddb.CreateTable(f.h.ctx, &dynamodb.CreateTableInput{TableName: aws.String(f.name), BillingMode: ddbtypes.BillingModePayPerRequest,
			AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}, {AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
			KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange}},
		}); err != nil {
			t.Fatal(err)
		}
		f.putItems(t, 5)
		before := f.table(t)
		tables := f.tables(nil)
		_, err := tables.Update(f.h.ctx, f.tenantID)
		var se *provision.StackError
		if !errors.Is(err, provision.ErrStackNotUpdatable) || errors.Is(err, provision.ErrStackUpdateFailed) || !errors.As(err, &se) ||
			se.Stack != f.name || se.Status != "" || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("Update = %v (%+v), want ErrStackNotUpdatable: stack %s does not exist", err, se, f.name)
		}
		if after := f.table(t); !after.equal(before) || len(after.items) != 5 {
			t.Fatalf("table after the failed update: %s; before: %s", after, before)
		}
		if _, err := tables.StackVersion(f.h.ctx, f.tenantID); !errors.Is(err, provision.ErrStackNotUpdatable) {
			t.Fatalf("StackVersion = %v, want ErrStackNotUpdatable", err)
		}
	})
	t.Run("stack deleted", func(t *testing.T) {
		f := newStackFixture(t)
		tables := f.tables(nil)
		if _, err := tables.EnsureFrom(f.h.ctx, f.record(), tenantstack.PreviousTemplateBody(), tenantstack.PreviousVersion()); err != nil {
			t.Fatal(err)
		}
		if err := tables.Delete(f.h.ctx, f.tenantID); err != nil && !errors.Is(err, provision.ErrLater) {
			t.Fatal(err)
		}
		if err := cloudformation.NewStackDeleteCompleteWaiter(f.cfn, func(o *cloudformation.StackDeleteCompleteWaiterOptions) {
			o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
		}).Wait(f.h.ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(f.name)}, 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := tables.Update(f.h.ctx, f.tenantID); !errors.Is(err, provision.ErrStackNotUpdatable) {
			t.Fatalf("Update = %v, want ErrStackNotUpdatable", err)
		}
	})
}

// TestEnsureFromMakesAStackOnThePreviousTemplate: EnsureFrom (the
// benchmark's and the rollout tests' way to make a stack to update) waits
// for the stack, tags it with its version, and Update then moves it on.
func TestEnsureFromMakesAStackOnThePreviousTemplate(t *testing.T) {
	f := newStackFixture(t)
	tables := f.tables(nil)
	table, err := tables.EnsureFrom(f.h.ctx, f.record(), tenantstack.PreviousTemplateBody(), tenantstack.PreviousVersion())
	if err != nil || table != f.name {
		t.Fatalf("EnsureFrom = %q, %v; want table %s", table, err, f.name)
	}
	st := f.stack(t)
	if st.StackStatus != cfntypes.StackStatusCreateComplete || outputsOf(st)[tenantstack.OutputTemplateVersion] != "" {
		t.Fatalf("stack %s, outputs %v; want CREATE_COMPLETE on version %s (which has no version output)", st.StackStatus, outputsOf(st), tenantstack.PreviousVersion())
	}
	if v, err := tables.StackVersion(f.h.ctx, f.tenantID); err != nil || v != tenantstack.PreviousVersion() {
		t.Fatalf("StackVersion = %q, %v; want %s", v, err, tenantstack.PreviousVersion())
	}
	f.putItems(t, 3)
	before := f.table(t)
	if v, err := tables.Update(f.h.ctx, f.tenantID); err != nil || v != tenantstack.Version() {
		t.Fatalf("Update = %q, %v; want %s", v, err, tenantstack.Version())
	}
	if after := f.table(t); !after.equal(before) {
		t.Fatalf("table after the update: %s; before: %s", after, before)
	}
	// Ensure (a migration's, onboarding's) finds the updated stack's table.
	if got, err := tables.Ensure(f.h.ctx, f.record()); err != nil || got != f.name {
		t.Fatalf("Ensure after the update = %q, %v", got, err)
	}
}

// reportedStatus reports the stack in status, with reason, whatever the
// emulator says (which has no such states), and counts UpdateStack calls
// without passing them on.
type reportedStatus struct {
	provision.CloudFormation
	status  cfntypes.StackStatus
	updates int
}

func (s *reportedStatus) DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, o ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	out, err := s.CloudFormation.DescribeStacks(ctx, in, o...)
	if err == nil {
		for i := range out.Stacks {
			out.Stacks[i].StackStatus, out.Stacks[i].StackStatusReason = s.status, aws.String("reported by the test")
		}
	}
	return out, err
}

func (s *reportedStatus) UpdateStack(context.Context, *cloudformation.UpdateStackInput, ...func(*cloudformation.Options)) (*cloudformation.UpdateStackOutput, error) {
	s.updates++
	return nil, errors.New("UpdateStack called")
}

// TestStackUpdateRefusesStacksCloudFormationDoesNotUpdate: stacks in the
// states CloudFormation refuses to update (the emulators never reach them:
// their statuses come from a wrapper) fail with ErrStackNotUpdatable, their
// status and reason, before any UpdateStack. The stack itself, on the
// emulator, stays at its version.
func TestStackUpdateRefusesStacksCloudFormationDoesNotUpdate(t *testing.T) {
	f := newStackFixture(t)
	f.createPreviousStack(t)
	for _, status := range []cfntypes.StackStatus{
		cfntypes.StackStatusCreateFailed, cfntypes.StackStatusRollbackComplete, cfntypes.StackStatusRollbackFailed,
		cfntypes.StackStatusUpdateRollbackFailed, cfntypes.StackStatusDeleteFailed, cfntypes.StackStatusReviewInProgress,
		cfntypes.StackStatusImportRollbackFailed, "SOME_NEW_STATUS",
	} {
		t.Run(string(status), func(t *testing.T) {
			s := &reportedStatus{CloudFormation: f.cfn, status: status}
			_, err := f.tables(s).Update(f.h.ctx, f.tenantID)
			var se *provision.StackError
			if !errors.Is(err, provision.ErrStackNotUpdatable) || !errors.As(err, &se) || se.Status != status ||
				se.Reason != "reported by the test" || se.Version != tenantstack.PreviousVersion() {
				t.Fatalf("Update = %v (%+v), want ErrStackNotUpdatable with the status and reason", err, se)
			}
			if s.updates != 0 {
				t.Fatalf("%d UpdateStack calls, want none", s.updates)
			}
		})
	}
	if st := f.stack(t); st.StackStatus != cfntypes.StackStatusCreateComplete || outputsOf(st)[tenantstack.OutputTemplateVersion] != "" {
		t.Fatalf("the stack moved: %s, outputs %v", st.StackStatus, outputsOf(st))
	}
}

// rollingBack plays CloudFormation's rollback of a failed update, which
// neither emulator performs: UpdateStack is accepted (and not passed on),
// then the stack reads UPDATE_IN_PROGRESS, UPDATE_ROLLBACK_IN_PROGRESS with
// AWS's reason, and UPDATE_ROLLBACK_COMPLETE without one (as AWS reports
// it), on its previous version: the emulator's stack, untouched.
type rollingBack struct {
	provision.CloudFormation
	mu      sync.Mutex
	updated bool
	looks   int
}

const rollbackReason = "The following resource(s) failed to create: [ReadThrottlesAlarmE6075F92]. "

func (s *rollingBack) UpdateStack(_ context.Context, in *cloudformation.UpdateStackInput, _ ...func(*cloudformation.Options)) (*cloudformation.UpdateStackOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updated = true
	return &cloudformation.UpdateStackOutput{StackId: in.StackName}, nil
}

func (s *rollingBack) DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, o ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	out, err := s.CloudFormation.DescribeStacks(ctx, in, o...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || !s.updated {
		return out, err
	}
	s.looks++
	status, reason := cfntypes.StackStatusUpdateRollbackComplete, ""
	switch s.looks {
	case 1, 2:
		status, reason = cfntypes.StackStatusUpdateInProgress, "User Initiated"
	case 3, 4:
		status, reason = cfntypes.StackStatusUpdateRollbackInProgress, rollbackReason
	}
	for i := range out.Stacks {
		out.Stacks[i].StackStatus = status
		out.Stacks[i].StackStatusReason = nil
		if reason != "" {
			out.Stacks[i].StackStatusReason = aws.String(reason)
		}
	}
	return out, nil
}

// TestStackUpdateThatCloudFormationRollsBackFails: an update that
// CloudFormation rolls back (played by rollingBack) fails with
// ErrStackUpdateFailed, the final status and the reason CloudFormation gave
// while rolling back; the stack runs its previous version, and stays
// usable: Ensure (a migration's, onboarding's) still finds its table.
func TestStackUpdateThatCloudFormationRollsBackFails(t *testing.T) {
	f := newStackFixture(t)
	f.createPreviousStack(t)
	f.putItems(t, 4)
	before := f.table(t)
	s := &rollingBack{CloudFormation: f.cfn}
	tables := f.tables(s)
	_, err := tables.Update(f.h.ctx, f.tenantID)
	var se *provision.StackError
	if !errors.Is(err, provision.ErrStackUpdateFailed) || !errors.As(err, &se) || se.Status != cfntypes.StackStatusUpdateRollbackComplete ||
		se.Reason != rollbackReason || se.Version != tenantstack.PreviousVersion() || s.looks < 5 {
		t.Fatalf("Update = %v (%+v, %d looks), want ErrStackUpdateFailed: UPDATE_ROLLBACK_COMPLETE, the rollback's reason, version %s",
			err, se, s.looks, tenantstack.PreviousVersion())
	}
	for _, want := range []string{f.name, "UPDATE_ROLLBACK_COMPLETE", rollbackReason, "template version " + tenantstack.PreviousVersion()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if v, err := tables.StackVersion(f.h.ctx, f.tenantID); err != nil || v != tenantstack.PreviousVersion() {
		t.Fatalf("StackVersion = %q, %v; want %s", v, err, tenantstack.PreviousVersion())
	}
	if table, err := tables.Ensure(f.h.ctx, f.record()); err != nil || table != f.name {
		t.Fatalf("Ensure of a rolled-back stack = %q, %v; want its table", table, err)
	}
	if after := f.table(t); !after.equal(before) {
		t.Fatalf("table: %s; before: %s", after, before)
	}
}
