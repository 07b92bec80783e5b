package tenantstack_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/control/tenantstack"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func fastWaits(o *cloudformation.StackCreateCompleteWaiterOptions) {
	o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second
}

// TestTemplateCreatesAUsableTable deploys the checked-in template with
// CloudFormation on the emulator, as the provisioner does, and uses the table.
func TestTemplateCreatesAUsableTable(t *testing.T) {
	e := testenv.Setup(t)
	ctx := context.Background()
	cfn := cloudformation.NewFromConfig(e.Config)
	id := tenant.NewID()
	name := access.DedicatedTable(e.Settings.Stage, id)
	_, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String(name),
		TemplateBody: aws.String(tenantstack.TemplateBody()),
		Parameters: []cfntypes.Parameter{
			{ParameterKey: aws.String(tenantstack.ParamStage), ParameterValue: aws.String(e.Settings.Stage)},
			{ParameterKey: aws.String(tenantstack.ParamTenantID), ParameterValue: aws.String(id)},
			{ParameterKey: aws.String(tenantstack.ParamKeyArn), ParameterValue: aws.String("arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000")},
		},
	})
	if err != nil {
		t.Fatalf("CreateStack: %v", err)
	}
	// CloudFormation creates and deletes asynchronously (moto's at once,
	// LocalStack's in a few seconds, AWS's in tens): wait as the SDK does.
	out, err := cloudformation.NewStackCreateCompleteWaiter(cfn, fastWaits).WaitForOutput(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)}, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	st := out.Stacks[0]
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack status %s", st.StackStatus)
	}
	outputs := map[string]string{}
	for _, o := range st.Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	if outputs[tenantstack.OutputTableName] != name {
		t.Fatalf("outputs %v, want table %s", outputs, name)
	}
	ddb := dynamodb.NewFromConfig(e.Config)
	item := map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: id + "#PRODUCT"}, "sk": &ddbtypes.AttributeValueMemberS{Value: "x"}}
	if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: item}); err != nil {
		t.Fatalf("dedicated table not usable: %v", err)
	}
	// The removal policy is Delete: deleting the stack removes the table
	// (offboarding depends on it).
	if _, err := cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	if err := cloudformation.NewStackDeleteCompleteWaiter(cfn, func(o *cloudformation.StackDeleteCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second
	}).Wait(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)}, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	_, err = ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	var nf *ddbtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("table survives its stack: %v", err)
	}
}
