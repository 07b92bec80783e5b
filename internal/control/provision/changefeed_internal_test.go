package provision

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/tessera-saas/tessera/internal/control/tenantstack"
	"github.com/tessera-saas/tessera/internal/local/emulator"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// changeFeedFixture is a stack that stands for the app stack's side of the
// change feed: a function (never invoked) and a queue, whose ARNs are what
// the provisioner's settings name in a deployment.
const changeFeedFixture = `{
  "Resources": {
    "Role": {"Type": "AWS::IAM::Role", "Properties": {
      "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}},
    "Function": {"Type": "AWS::Lambda::Function", "Properties": {
      "Runtime": "python3.12", "Handler": "index.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
      "Code": {"ZipFile": "def handler(event, context):\n    return {}\n"}}},
    "DLQ": {"Type": "AWS::SQS::Queue"}
  },
  "Outputs": {
    "FunctionArn": {"Value": {"Fn::GetAtt": ["Function", "Arn"]}},
    "DLQArn": {"Value": {"Fn::GetAtt": ["DLQ", "Arn"]}}
  }
}`

// createStack creates a stack and waits for it; t's cleanup deletes it.
func createStack(ctx context.Context, t *testing.T, cfn *cloudformation.Client, in *cloudformation.CreateStackInput) map[string]string {
	t.Helper()
	if _, err := cfn.CreateStack(ctx, in); err != nil {
		t.Fatalf("CreateStack %s: %v", aws.ToString(in.StackName), err)
	}
	t.Cleanup(func() { deleteStack(context.Background(), t, cfn, aws.ToString(in.StackName)) })
	out, err := cloudformation.NewStackCreateCompleteWaiter(cfn, func(o *cloudformation.StackCreateCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second
	}).WaitForOutput(ctx, &cloudformation.DescribeStacksInput{StackName: in.StackName}, 2*time.Minute)
	if err != nil {
		t.Fatalf("stack %s: %v (%s)", aws.ToString(in.StackName), err, failedResources(ctx, cfn, aws.ToString(in.StackName)))
	}
	outputs := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return outputs
}

// failedResources lists the stack's resources that failed, with their
// reasons.
func failedResources(ctx context.Context, cfn *cloudformation.Client, name string) string {
	out, err := cfn.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(name)})
	if err != nil {
		return err.Error()
	}
	var failed []string
	for _, ev := range out.StackEvents {
		if strings.HasSuffix(string(ev.ResourceStatus), "_FAILED") {
			failed = append(failed, aws.ToString(ev.LogicalResourceId)+": "+aws.ToString(ev.ResourceStatusReason))
		}
	}
	return strings.Join(failed, "; ")
}

func deleteStack(ctx context.Context, t *testing.T, cfn *cloudformation.Client, name string) {
	t.Helper()
	if _, err := cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(name)}); err != nil {
		t.Errorf("DeleteStack %s: %v", name, err)
		return
	}
	if err := cloudformation.NewStackDeleteCompleteWaiter(cfn, func(o *cloudformation.StackDeleteCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second
	}).Wait(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)}, 2*time.Minute); err != nil {
		t.Errorf("stack %s not deleted: %v", name, err)
	}
}

// TestEnsureStackPassesTheChangeFeed: a tenant's stack gets the change
// feed settings as its parameters ChangeFeedFunctionArn and
// ChangeFeedDLQArn, empty when they are unset; with them the stack maps its
// table's stream to the function (an AWS::Lambda::EventSourceMapping the
// emulator's Lambda made), without them it has no mapping. A second
// ensureStack, as a redelivered event makes, finds the same stack.
func TestEnsureStackPassesTheChangeFeed(t *testing.T) {
	e := testenv.Setup(t)
	ctx := context.Background()
	cfn := cloudformation.NewFromConfig(e.Config)
	for _, tc := range []struct {
		name string
		feed bool
	}{
		{"unset", false},
		{"set", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fn, dlq string
			if tc.feed {
				if testenv.Engine(t) == emulator.LocalStack {
					// Its Lambda creates no function without Docker ("Error
					// while creating lambda"), and a mapping needs one.
					t.Skip("LocalStack without Docker creates no Lambda function for the mapping to name")
				}
				feed := createStack(ctx, t, cfn, &cloudformation.CreateStackInput{
					StackName:    aws.String("changefeed-" + tenant.NewID()[18:]),
					TemplateBody: aws.String(changeFeedFixture),
					Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
				})
				fn, dlq = feed["FunctionArn"], feed["DLQArn"]
			}
			s := e.Settings
			s.ChangeFeedFunctionARN, s.ChangeFeedDLQARN = fn, dlq
			if err := s.CheckChangeFeed(); err != nil {
				t.Fatal(err)
			}
			p := New(Deps{Stacks: cfn, Settings: s, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))})
			rec := catalog.Record{TenantID: tenant.NewID(), Tier: catalog.TierPremium}
			const keyARN = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
			name := StackName(s.Stage, rec.TenantID)
			t.Cleanup(func() { deleteStack(context.Background(), t, cfn, name) })
			for run := 0; run < 2; run++ {
				table, err := ensureStackUntilDone(ctx, p, rec, keyARN)
				if err != nil {
					t.Fatalf("run %d: %v", run, err)
				}
				if want := access.DedicatedTable(s.Stage, rec.TenantID); table != want {
					t.Fatalf("run %d: table %q, want %q", run, table, want)
				}
			}

			out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
			if err != nil || len(out.Stacks) != 1 {
				t.Fatalf("DescribeStacks %s: %d stacks, %v", name, len(out.Stacks), err)
			}
			params := map[string]string{}
			for _, p := range out.Stacks[0].Parameters {
				params[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
			}
			for k, want := range map[string]string{
				tenantstack.ParamStage: s.Stage, tenantstack.ParamTenantID: rec.TenantID, tenantstack.ParamKeyArn: keyARN,
				tenantstack.ParamChangeFeedFunctionArn: fn, tenantstack.ParamChangeFeedDLQArn: dlq,
			} {
				if got, ok := params[k]; !ok || got != want {
					t.Errorf("parameter %s = %q (present: %v), want %q", k, got, ok, want)
				}
			}

			res, err := cfn.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			var mappings []cfntypes.StackResource
			for _, r := range res.StackResources {
				if aws.ToString(r.ResourceType) == "AWS::Lambda::EventSourceMapping" {
					mappings = append(mappings, r)
				}
			}
			switch {
			case !tc.feed && len(mappings) != 0:
				t.Errorf("stack without the change feed settings has mappings %+v", mappings)
			case tc.feed && len(mappings) != 1:
				t.Errorf("stack with the change feed settings has %d mappings, want 1", len(mappings))
			case tc.feed && (mappings[0].ResourceStatus != cfntypes.ResourceStatusCreateComplete || aws.ToString(mappings[0].PhysicalResourceId) == ""):
				t.Errorf("mapping %s is %s with id %q", aws.ToString(mappings[0].LogicalResourceId), mappings[0].ResourceStatus, aws.ToString(mappings[0].PhysicalResourceId))
			}
		})
	}
}

// ensureStackUntilDone runs ensureStack again while the stack is being
// created (LocalStack and AWS create asynchronously), for up to two minutes.
func ensureStackUntilDone(ctx context.Context, p *Provisioner, rec catalog.Record, keyARN string) (string, error) {
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(250 * time.Millisecond) {
		table, err := p.ensureStack(ctx, rec, keyARN)
		if !errors.Is(err, ErrLater) || time.Now().After(deadline) {
			return table, err
		}
	}
}
