package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/platform/access"
)

// The dedicated tables' event source mappings (TenantStack's ChangeFeed
// resource) are made by CloudFormation with the provisioner's credentials,
// as the tables are: the provisioner creates TenantStacks without a stack
// service role. So the provisioner's role may create, update, delete and
// read event source mappings, and only those that invoke the changefeed
// function. Lambda checks at creation that the function's own role reads
// the stream and sends to the on-failure queue (grantChangeFeedStreams,
// and the pooled mapping's NewSqsDlq).
//
// IAM's resources and condition keys for these actions (the Service
// Authorization Reference for Lambda): CreateEventSourceMapping has no
// resource and takes lambda:FunctionArn; Update, Delete and Get act on an
// event-source-mapping ARN and take lambda:FunctionArn; TagResource and
// ListTags act on the mapping.

// Actions on the changefeed function's event source mappings, by how IAM
// scopes them.
var (
	// changeFeedMappingCreate has no resource: "*", narrowed by
	// lambda:FunctionArn.
	changeFeedMappingCreate = []string{"lambda:CreateEventSourceMapping"}
	// changeFeedMappingWrite act on a mapping, narrowed by
	// lambda:FunctionArn.
	changeFeedMappingWrite = []string{"lambda:DeleteEventSourceMapping", "lambda:UpdateEventSourceMapping"}
	// changeFeedMappingRead act on a mapping, unconditioned: CloudFormation
	// reads a mapping after deleting it until it is gone, and a mapping
	// that is gone has no function to match (the read would be denied
	// instead of answered "not found", and the deletion would fail).
	// ListTags: CloudFormation reads the tags of a taggable resource.
	changeFeedMappingRead = []string{"lambda:GetEventSourceMapping", "lambda:ListTags"}
	// changeFeedMappingTag: AWS::Lambda::EventSourceMapping is taggable, so
	// CloudFormation creates it with the stack's tags (tenantId, stage) and
	// its own (aws:cloudformation:*), which Lambda authorizes as
	// TagResource on the new mapping. No other tag key.
	changeFeedMappingTag = []string{"lambda:TagResource"}
)

// changeFeedMappingTagKeys are the tag keys a TenantStack's mapping is
// created with: the stack's tags (ensureStack in internal/control/provision)
// and CloudFormation's own.
var changeFeedMappingTagKeys = []string{access.TenantTag, access.StageTag, "aws:cloudformation:*"}

// eventSourceMappingsARN matches every event source mapping of the stack's
// account and Region (a mapping's ARN ends in its UUID, and says nothing
// of its function or table).
func eventSourceMappingsARN(stack awscdk.Stack) string {
	return "arn:" + *stack.Partition() + ":lambda:" + *stack.Region() + ":" + *stack.Account() + ":event-source-mapping:*"
}

// grantChangeFeedMappings lets the provisioner's role manage, through
// CloudFormation, the TenantStack mappings from a dedicated table's stream
// to feed, the changefeed function: create, update and delete those of
// feed only; read and tag (on create, with the TenantStack's tag keys) any
// mapping of the account and Region, which IAM cannot narrow further.
func grantChangeFeedMappings(stack awscdk.Stack, role awsiam.Role, feed awslambda.Function) error {
	if feed == nil {
		return fmt.Errorf("the provisioner's TenantStack mappings: no %s function", functionChangeFeed)
	}
	onlyFeed := map[string]any{"ArnEquals": map[string]any{"lambda:FunctionArn": feed.FunctionArn()}}
	mappings := jsii.String(eventSourceMappingsARN(stack))
	role.AddToPrincipalPolicy(statement("ChangeFeedMappingCreate", changeFeedMappingCreate, onlyFeed, jsii.String("*")))
	role.AddToPrincipalPolicy(statement("ChangeFeedMappingWrite", changeFeedMappingWrite, onlyFeed, mappings))
	role.AddToPrincipalPolicy(statement("ChangeFeedMappingRead", changeFeedMappingRead, nil, mappings))
	role.AddToPrincipalPolicy(statement("ChangeFeedMappingTags", changeFeedMappingTag, map[string]any{
		"ForAllValues:StringLike": map[string]any{"aws:TagKeys": changeFeedMappingTagKeys},
	}, mappings))
	return nil
}
