package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// PooledStreamView is what the pooled table's DynamoDB stream carries: each
// changed item's keys, its image before and its image after the change, for
// the tenant change feed.
const PooledStreamView = ddbtypes.StreamViewTypeNewAndOldImages

// Names of what bootstrap creates beside the tables.
const (
	UserPoolName   = "tessera-users"
	AppClientName  = "tessera-app"
	OperatorsGroup = tenant.OperatorsGroup
)

// Run creates what is missing and returns the settings completed with the
// user pool and app client ids.
func Run(ctx context.Context, cfg aws.Config, s settings.Settings) (settings.Settings, error) {
	ddb := dynamodb.NewFromConfig(cfg)
	if err := ensureTable(ctx, ddb, s.PooledTable, nil, PooledStreamView); err != nil {
		return s, err
	}
	if err := ensureTable(ctx, ddb, s.CatalogTable, &catalogIndex, ""); err != nil {
		return s, err
	}
	if err := ensureTTL(ctx, ddb, s.CatalogTable, store.CatalogTTLAttribute); err != nil {
		return s, err
	}
	if err := ensureTTL(ctx, ddb, s.PooledTable, store.InviteExpiryAttribute); err != nil {
		return s, err
	}
	idp := cip.NewFromConfig(cfg)
	poolID, err := ensureUserPool(ctx, idp)
	if err != nil {
		return s, err
	}
	clientID, err := ensureAppClient(ctx, idp, poolID)
	if err != nil {
		return s, err
	}
	if err := ensureGroup(ctx, idp, poolID, OperatorsGroup); err != nil {
		return s, err
	}
	eb := eventbridge.NewFromConfig(cfg)
	if err := ensureBus(ctx, eb, s.EventBus); err != nil {
		return s, err
	}
	if s.ProvisioningQueueURL, err = ensureProvisioning(ctx, sqs.NewFromConfig(cfg), eb, s.EventBus, s.Cell); err != nil {
		return s, err
	}
	if s.ExportQueueURLs, err = ensureExports(ctx, awsconfig.NewS3(cfg), sqs.NewFromConfig(cfg), s.ExportBucket, cfg.Region, s.Cell); err != nil {
		return s, err
	}
	if err := ensureBackupBucket(ctx, awsconfig.NewS3(cfg), s.BackupBucket, cfg.Region); err != nil {
		return s, err
	}
	plans, err := ensureUsagePlans(ctx, apigateway.NewFromConfig(cfg), s.Stage)
	if err != nil {
		return s, err
	}
	s.UsagePlanIDs = plans
	s.UserPoolID, s.AppClientID = poolID, clientID
	return s, nil
}

// catalogIndex lists tenant profiles (see store.Catalog).
var catalogIndex = ddbtypes.GlobalSecondaryIndex{
	IndexName: aws.String(store.CatalogIndex),
	KeySchema: []ddbtypes.KeySchemaElement{
		{AttributeName: aws.String(store.CatalogIndexPK), KeyType: ddbtypes.KeyTypeHash},
		{AttributeName: aws.String(store.CatalogIndexSK), KeyType: ddbtypes.KeyTypeRange},
	},
	Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll},
}

// ensureTable creates a table with the key schema shared by the pooled, the
// catalog and every dedicated table: pk (S) and sk (S), on demand, with an
// optional global secondary index on string keys and, unless stream is
// empty, a DynamoDB stream of that view type (a table made before without
// a stream gets one).
func ensureTable(ctx context.Context, ddb *dynamodb.Client, name string, gsi *ddbtypes.GlobalSecondaryIndex, stream ddbtypes.StreamViewType) error {
	existing, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
	if err == nil {
		if stream == "" {
			return nil
		}
		return ensureStream(ctx, ddb, name, existing.Table.StreamSpecification, stream)
	}
	var nf *ddbtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		return fmt.Errorf("describe table %s: %w", name, err)
	}
	attrs := []ddbtypes.AttributeDefinition{
		{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
		{AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
	}
	var gsis []ddbtypes.GlobalSecondaryIndex
	if gsi != nil {
		gsis = append(gsis, *gsi)
		for _, k := range gsi.KeySchema {
			attrs = append(attrs, ddbtypes.AttributeDefinition{AttributeName: k.AttributeName, AttributeType: ddbtypes.ScalarAttributeTypeS})
		}
	}
	_, err = ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:              &name,
		BillingMode:            ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions:   attrs,
		GlobalSecondaryIndexes: gsis,
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange},
		},
		SSESpecification:    &ddbtypes.SSESpecification{Enabled: aws.Bool(true)},
		StreamSpecification: streamSpec(stream),
	})
	var inUse *ddbtypes.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	if err := waitActive(ctx, ddb, name); err != nil {
		return err
	}
	if inUse == nil || stream == "" {
		return nil
	}
	// Made meanwhile by another run, maybe without the stream.
	again, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
	if err != nil {
		return fmt.Errorf("describe table %s: %w", name, err)
	}
	return ensureStream(ctx, ddb, name, again.Table.StreamSpecification, stream)
}

// streamSpec is the StreamSpecification of a table with a stream of view
// type view; nil (no stream) for an empty view.
func streamSpec(view ddbtypes.StreamViewType) *ddbtypes.StreamSpecification {
	if view == "" {
		return nil
	}
	return &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: view}
}

// hasStream reports whether spec describes an enabled stream of view type view.
func hasStream(spec *ddbtypes.StreamSpecification, view ddbtypes.StreamViewType) bool {
	return spec != nil && aws.ToBool(spec.StreamEnabled) && spec.StreamViewType == view
}

// ensureStream enables a stream of view type view on an existing table whose
// StreamSpecification is spec; a table with that stream is left alone. A
// stream of another view type is an error: changing it means disabling it,
// which ends the stream its readers follow, so that is left to an operator.
func ensureStream(ctx context.Context, ddb *dynamodb.Client, name string, spec *ddbtypes.StreamSpecification, view ddbtypes.StreamViewType) error {
	if hasStream(spec, view) {
		return nil
	}
	if spec != nil && aws.ToBool(spec.StreamEnabled) {
		return fmt.Errorf("table %s has a %s stream, want %s: disable it first", name, spec.StreamViewType, view)
	}
	if _, err := ddb.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: &name, StreamSpecification: streamSpec(view)}); err != nil {
		// Another run may have enabled it meanwhile (DynamoDB answers
		// ValidationException, moto ResourceInUseException).
		if again, derr := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name}); derr == nil && hasStream(again.Table.StreamSpecification, view) {
			return nil
		}
		return fmt.Errorf("enable %s stream on table %s: %w", view, name, err)
	}
	return waitActive(ctx, ddb, name)
}

// waitActive waits until table name is ACTIVE.
func waitActive(ctx context.Context, ddb *dynamodb.Client, name string) error {
	w := dynamodb.NewTableExistsWaiter(ddb)
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: &name}, 2*time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	return nil
}

// ensureTTL turns on the table's TTL on attr, as infra/ does for the
// catalog (emulators store the setting but never delete an item; the store
// treats expired items as absent itself). Tables made before get it too.
func ensureTTL(ctx context.Context, ddb *dynamodb.Client, table, attr string) error {
	out, err := ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &table})
	if err != nil {
		return fmt.Errorf("describe ttl of %s: %w", table, err)
	}
	if d := out.TimeToLiveDescription; d != nil && aws.ToString(d.AttributeName) == attr &&
		(d.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabled || d.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabling) {
		return nil
	}
	if _, err := ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: &table,
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: &attr, Enabled: aws.Bool(true)}}); err != nil {
		return fmt.Errorf("enable ttl of %s on %s: %w", table, attr, err)
	}
	return nil
}

func ensureUserPool(ctx context.Context, idp *cip.Client) (string, error) {
	p := cip.NewListUserPoolsPaginator(idp, &cip.ListUserPoolsInput{MaxResults: aws.Int32(60)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("list user pools: %w", err)
		}
		for _, up := range page.UserPools {
			if aws.ToString(up.Name) == UserPoolName {
				return aws.ToString(up.Id), nil
			}
		}
	}
	out, err := idp.CreateUserPool(ctx, &cip.CreateUserPoolInput{
		PoolName:               aws.String(UserPoolName),
		UsernameAttributes:     []ciptypes.UsernameAttributeType{ciptypes.UsernameAttributeTypeEmail},
		AutoVerifiedAttributes: []ciptypes.VerifiedAttributeType{ciptypes.VerifiedAttributeTypeEmail},
		Policies: &ciptypes.UserPoolPolicyType{PasswordPolicy: &ciptypes.PasswordPolicyType{
			MinimumLength: aws.Int32(12), RequireLowercase: true, RequireUppercase: true,
			RequireNumbers: true, RequireSymbols: false, TemporaryPasswordValidityDays: 7,
		}},
		AdminCreateUserConfig: &ciptypes.AdminCreateUserConfigType{AllowAdminCreateUserOnly: true},
		// Tenant and role are immutable: once set at creation, no API call, and
		// certainly no user, can move a user into another tenant.
		Schema: []ciptypes.SchemaAttributeType{
			customAttr("tenantId", 64),
			customAttr("role", 16),
		},
	})
	if err != nil {
		return "", fmt.Errorf("create user pool: %w", err)
	}
	return aws.ToString(out.UserPool.Id), nil
}

func customAttr(name string, maxLen int) ciptypes.SchemaAttributeType {
	return ciptypes.SchemaAttributeType{
		Name:                   aws.String(name),
		AttributeDataType:      ciptypes.AttributeDataTypeString,
		Mutable:                aws.Bool(false),
		DeveloperOnlyAttribute: aws.Bool(false),
		StringAttributeConstraints: &ciptypes.StringAttributeConstraintsType{
			MinLength: aws.String("1"), MaxLength: aws.String(fmt.Sprint(maxLen)),
		},
	}
}

func ensureAppClient(ctx context.Context, idp *cip.Client, poolID string) (string, error) {
	p := cip.NewListUserPoolClientsPaginator(idp, &cip.ListUserPoolClientsInput{UserPoolId: &poolID, MaxResults: aws.Int32(60)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("list app clients: %w", err)
		}
		for _, c := range page.UserPoolClients {
			if aws.ToString(c.ClientName) == AppClientName {
				return aws.ToString(c.ClientId), nil
			}
		}
	}
	out, err := idp.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{
		UserPoolId:     &poolID,
		ClientName:     aws.String(AppClientName),
		GenerateSecret: false,
		ExplicitAuthFlows: []ciptypes.ExplicitAuthFlowsType{
			ciptypes.ExplicitAuthFlowsTypeAllowUserPasswordAuth,
			ciptypes.ExplicitAuthFlowsTypeAllowUserSrpAuth,
			ciptypes.ExplicitAuthFlowsTypeAllowRefreshTokenAuth,
		},
		// The app may read tenant and role; it may write neither, nor the
		// email (users are known by sub; see infra/userpool.go). Only the
		// display name: an empty list would mean every attribute.
		ReadAttributes:  []string{"email", "email_verified", "custom:tenantId", "custom:role"},
		WriteAttributes: []string{"name"},
	})
	if err != nil {
		return "", fmt.Errorf("create app client: %w", err)
	}
	return aws.ToString(out.UserPoolClient.ClientId), nil
}

func ensureGroup(ctx context.Context, idp *cip.Client, poolID, name string) error {
	_, err := idp.GetGroup(ctx, &cip.GetGroupInput{UserPoolId: &poolID, GroupName: &name})
	if err == nil {
		return nil
	}
	var nf *ciptypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		return fmt.Errorf("get group %s: %w", name, err)
	}
	_, err = idp.CreateGroup(ctx, &cip.CreateGroupInput{UserPoolId: &poolID, GroupName: &name})
	var exists *ciptypes.GroupExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("create group %s: %w", name, err)
	}
	return nil
}

func ensureBus(ctx context.Context, eb *eventbridge.Client, name string) error {
	_, err := eb.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: &name})
	if err == nil {
		return nil
	}
	var nf *ebtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		return fmt.Errorf("describe event bus %s: %w", name, err)
	}
	_, err = eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: &name})
	var exists *ebtypes.ResourceAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("create event bus %s: %w", name, err)
	}
	return nil
}

// EnsureDirectory creates the cell router's directory table (the key
// schema of every table here, TTL on the idempotency keys' expiresAt), as
// the CDK app's router stack does.
func EnsureDirectory(ctx context.Context, cfg aws.Config, table string) error {
	ddb := dynamodb.NewFromConfig(cfg)
	if err := ensureTable(ctx, ddb, table, nil, ""); err != nil {
		return err
	}
	return ensureTTL(ctx, ddb, table, store.CatalogTTLAttribute)
}
