package main

import (
	"fmt"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/platform/access"
)

// Disaster recovery: S3 replicates the backup bucket (every tenant's
// change log and snapshots) to a replica bucket in a second Region, the DR
// Region, where the replicas are encrypted under a key of that Region. The
// DR stack (Tessera-<stage>-DR) holds the replica bucket and key; the Data
// stack holds the replication role and configuration, and depends on the
// DR stack, which is deployed first (replication needs the destination
// bucket, versioned). Both stacks find each other's resources by name
// (replicaBucketName, access.ReplicaKeyAlias, access.BackupReplicationRoleName),
// in the same account: no cross-Region reference.

// Context keys of disaster recovery.
const (
	// ctxDRRegion is the DR Region, or drOff for no replication. Unset,
	// it is defaultDRRegions' partner of the primary Region.
	ctxDRRegion = "drRegion"
	// ctxDRReplicationTimeControl turns S3 Replication Time Control on or
	// off ("true", "false"); unset, it is on in prod.
	ctxDRReplicationTimeControl = "drReplicationTimeControl"
)

// drOff as ctxDRRegion turns replication off.
const drOff = "none"

// defaultDRRegions is the DR Region of a primary Region when ctxDRRegion
// is not set: a Region of the same geography, so that a default never
// moves tenants' backups out of their jurisdiction. Other primaries must
// name theirs.
var defaultDRRegions = map[string]string{
	"us-east-1": "us-west-2", "us-east-2": "us-west-2", "us-west-1": "us-east-1", "us-west-2": "us-east-1",
	"ca-central-1": "ca-west-1", "ca-west-1": "ca-central-1",
	"eu-west-1": "eu-central-1", "eu-central-1": "eu-west-1", "eu-west-2": "eu-west-1", "eu-west-3": "eu-central-1",
	"eu-north-1": "eu-central-1", "eu-south-1": "eu-central-1",
	"ap-southeast-2": "ap-southeast-4", "ap-southeast-4": "ap-southeast-2",
	"ap-northeast-1": "ap-northeast-3", "ap-northeast-3": "ap-northeast-1",
}

// defaultPrimaryRegion is the Region an environment-agnostic deployment
// is assumed to be in when ctxDRRegion is not set; a CloudFormation rule
// refuses to deploy it anywhere else (drRegionRule).
const defaultPrimaryRegion = "us-east-1"

// replicationTimeMinutes is S3 Replication Time Control's threshold: 99.99%
// of new objects replicated within 15 minutes (the SLA), with replication
// metrics and an event for any object later than that.
const replicationTimeMinutes = 15

// drConfig is where and how the backup bucket is replicated.
type drConfig struct {
	// Region is the DR Region.
	Region string
	// PrimaryRegion is the Region of the replicated stacks, "" when they
	// are environment-agnostic.
	PrimaryRegion string
	// Defaulted says Region was not set but chosen (defaultDRRegions).
	Defaulted bool
	// ReplicationTimeControl turns on S3 Replication Time Control.
	ReplicationTimeControl bool
}

// drFrom reads the DR configuration: nil when replication is off. primary
// is the Region of the stacks that hold backup buckets ("" when they are
// environment-agnostic).
func drFrom(app awscdk.App, ctx func(string) string, primary string, prod bool) (*drConfig, error) {
	dr := &drConfig{Region: ctx(ctxDRRegion), PrimaryRegion: primary}
	switch {
	case dr.Region == drOff:
		return nil, nil
	case dr.Region == "" && primary == "":
		dr.Region, dr.Defaulted = defaultDRRegions[defaultPrimaryRegion], true
	case dr.Region == "":
		r, ok := defaultDRRegions[primary]
		if !ok {
			return nil, fmt.Errorf("config: no default DR Region for %s: set the context %s to the Region of the backup replicas (or %s)", primary, ctxDRRegion, drOff)
		}
		dr.Region, dr.Defaulted = r, true
	case !regionPattern.MatchString(dr.Region):
		return nil, fmt.Errorf("config: context %s must be an AWS Region (such as us-west-2) or %s, not %q", ctxDRRegion, drOff, dr.Region)
	case dr.Region == primary:
		return nil, fmt.Errorf("config: context %s %s is the primary Region: backups are replicated to another Region", ctxDRRegion, dr.Region)
	}
	rtc := prod
	switch v := app.Node().TryGetContext(jsii.String(ctxDRReplicationTimeControl)).(type) {
	case nil:
	case bool:
		rtc = v
	case string:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("config: context %s must be true or false, not %q", ctxDRReplicationTimeControl, v)
		}
		rtc = b
	default:
		return nil, fmt.Errorf("config: context %s must be true or false, not %T", ctxDRReplicationTimeControl, v)
	}
	dr.ReplicationTimeControl = rtc
	return dr, nil
}

// replicaBucketName names the replica bucket of stage's backups in account
// and region: "tessera-<stage>-backups-dr-<account>-<region>" (at most 58
// characters), unique among all buckets since account and Region are in it.
func replicaBucketName(stage, account, region string) string {
	return "tessera-" + stage + "-backups-dr-" + account + "-" + region
}

// replicaBucketARN is replicaBucketName's ARN.
func replicaBucketARN(partition, stage, account, region string) string {
	return "arn:" + partition + ":s3:::" + replicaBucketName(stage, account, region)
}

// DRStackProps configures the DR stack. Its Env must name the DR Region.
type DRStackProps struct {
	awscdk.StackProps
	Config config
}

// DRStack holds the replica side of the backup bucket's replication.
type DRStack struct {
	Stack         awscdk.Stack
	ReplicaBucket awss3.Bucket
	ReplicaKey    awskms.Key
}

// NewDRStack defines, in the DR Region, the replica bucket of the backup
// bucket (private, TLS only, versioned, the same per-tier lifecycle rules:
// replicas keep their tier tags) and the key its replicas are encrypted
// under (access.ReplicaKeyPolicy: the replication role encrypts with it
// through S3, nobody decrypts until a failover says so). Retained in prod.
func NewDRStack(scope constructs.Construct, id string, props *DRStackProps) *DRStack {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	cfg := props.Config
	removal := awscdk.RemovalPolicy_DESTROY
	if cfg.Prod() {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	policy := access.ReplicaKeyPolicy(replicationResources(stack, cfg, nil))
	key := awskms.NewKey(stack, jsii.String("ReplicaKey"), &awskms.KeyProps{
		Description:       jsii.String("Tessera " + cfg.Stage + ": encrypts the replicas of the tenants' backups"),
		Alias:             jsii.String(access.ReplicaKeyAlias(cfg.Stage)),
		EnableKeyRotation: jsii.Bool(true),
		Policy:            awsiam.PolicyDocument_FromJson(policy.Map()),
		RemovalPolicy:     removal,
	})
	bucket := newTenantObjectBucket(stack, cfg, tenantBucket{
		ID:        "ReplicaBucket",
		Name:      jsii.String(replicaBucketName(cfg.Stage, *stack.Account(), cfg.DR.Region)),
		Versioned: true,
		Rules:     backupLifecycleRules(),
	})
	outputs(stack, map[string]*string{
		"ReplicaBucketName": bucket.BucketName(),
		"ReplicaKeyArn":     key.KeyArn(),
	})
	return &DRStack{Stack: stack, ReplicaBucket: bucket, ReplicaKey: key}
}

// replicationResources names both sides of the replication as seen from
// stack (either side: both are in one account). source is the backup
// bucket, nil in the DR stack (which does not need it).
func replicationResources(stack awscdk.Stack, cfg config, source awss3.IBucket) access.ReplicationResources {
	r := access.ReplicationResources{
		Stage: cfg.Stage, Partition: *stack.Partition(), Account: *stack.Account(), URLSuffix: *stack.UrlSuffix(),
		ReplicaRegion:    cfg.DR.Region,
		ReplicaBucketARN: replicaBucketARN(*stack.Partition(), cfg.Stage, *stack.Account(), cfg.DR.Region),
	}
	if source != nil {
		r.SourceRegion, r.SourceBucketARN = *stack.Region(), *source.BucketArn()
	}
	return r
}

// replicaKeyAliasARN is the ARN of the replica key's alias, as the
// replication configuration names the key (the key's own ARN is not known
// outside its stack without a cross-Region reference; KMS resolves the
// alias in the bucket owner's account, which is the key's).
func replicaKeyAliasARN(stack awscdk.Stack, cfg config) string {
	return "arn:" + *stack.Partition() + ":kms:" + cfg.DR.Region + ":" + *stack.Account() + ":" + access.ReplicaKeyAlias(cfg.Stage)
}

// replicateBackups makes S3 replicate bucket (the backup bucket, in
// stack) to the DR stack's replica bucket: every object and delete marker,
// with its tags; objects encrypted under tenant keys (SSE-KMS, which S3
// skips unless told) included, re-encrypted under the replica key. The
// replication role (access.BackupReplicationRoleName) has
// access.BackupReplicationPolicy; each tenant key's policy lets it decrypt
// through S3 (access.TenantKeyPolicy). With cfg.DR.ReplicationTimeControl,
// S3 replicates 99.99% of objects within replicationTimeMinutes and reports
// any later one.
func replicateBackups(stack awscdk.Stack, cfg config, bucket awss3.Bucket) awsiam.Role {
	role := awsiam.NewRole(stack, jsii.String("BackupReplicationRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(access.BackupReplicationRoleName(cfg.Stage)),
		Description: jsii.String("S3 replication of the tenants' backups to " + cfg.DR.Region),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("s3.amazonaws.com"), nil),
	})
	for _, st := range access.BackupReplicationPolicy(replicationResources(stack, cfg, bucket)).Statement {
		role.AddToPrincipalPolicy(fromAccess(st))
	}
	bucket.Node().DefaultChild().(awss3.CfnBucket).SetReplicationConfiguration(
		backupReplication(role.RoleArn(), replicationResources(stack, cfg, bucket).ReplicaBucketARN, replicaKeyAliasARN(stack, cfg), cfg.DR.ReplicationTimeControl))
	if cfg.DR.PrimaryRegion == "" {
		drRegionRule(stack, cfg)
	}
	return role
}

// backupReplication is the backup bucket's replication configuration: one
// rule for the whole bucket (an empty prefix filter, the schema that
// allows delete-marker replication), SSE-KMS objects included, replicas
// encrypted under replicaKey.
//
// Delete markers are replicated so that a deliberate deletion (an
// operator purging an offboarded tenant's backups) reaches the replicas,
// which the tenant key's deletion does not shred (they are under the
// replica key). Lifecycle expirations are not replicated as deletions; the
// replica bucket expires replicas by its own, identical, rules.
func backupReplication(roleARN *string, replicaBucket, replicaKey string, rtc bool) *awss3.CfnBucket_ReplicationConfigurationProperty {
	dest := &awss3.CfnBucket_ReplicationDestinationProperty{
		Bucket:                  jsii.String(replicaBucket),
		EncryptionConfiguration: &awss3.CfnBucket_EncryptionConfigurationProperty{ReplicaKmsKeyId: jsii.String(replicaKey)},
	}
	if rtc {
		minutes := jsii.Number(replicationTimeMinutes)
		dest.ReplicationTime = &awss3.CfnBucket_ReplicationTimeProperty{
			Status: jsii.String("Enabled"), Time: &awss3.CfnBucket_ReplicationTimeValueProperty{Minutes: minutes},
		}
		dest.Metrics = &awss3.CfnBucket_MetricsProperty{
			Status: jsii.String("Enabled"), EventThreshold: &awss3.CfnBucket_ReplicationTimeValueProperty{Minutes: minutes},
		}
	}
	return &awss3.CfnBucket_ReplicationConfigurationProperty{
		Role: roleARN,
		Rules: &[]any{&awss3.CfnBucket_ReplicationRuleProperty{
			Id:                      jsii.String("ReplicateBackupsToDR"),
			Status:                  jsii.String("Enabled"),
			Priority:                jsii.Number(0),
			Filter:                  &awss3.CfnBucket_ReplicationRuleFilterProperty{Prefix: jsii.String("")},
			DeleteMarkerReplication: &awss3.CfnBucket_DeleteMarkerReplicationProperty{Status: jsii.String("Enabled")},
			SourceSelectionCriteria: &awss3.CfnBucket_SourceSelectionCriteriaProperty{
				SseKmsEncryptedObjects: &awss3.CfnBucket_SseKmsEncryptedObjectsProperty{Status: jsii.String("Enabled")},
			},
			Destination: dest,
		}},
	}
}

// drRegionRule keeps an environment-agnostic stack from being deployed
// where its DR configuration is wrong: in the DR Region itself, or, with
// the default DR Region, anywhere but the Region that default pairs with.
func drRegionRule(stack awscdk.Stack, cfg config) {
	assertion := &awscdk.CfnRuleAssertion{
		Assert: awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(awscdk.Aws_REGION(), jsii.String(cfg.DR.Region))),
		AssertDescription: jsii.String(fmt.Sprintf("The tenants' backups are replicated to %s: deploy this stack to another Region, or set the context %s",
			cfg.DR.Region, ctxDRRegion)),
	}
	if cfg.DR.Defaulted {
		assertion = &awscdk.CfnRuleAssertion{
			Assert: awscdk.Fn_ConditionEquals(awscdk.Aws_REGION(), jsii.String(defaultPrimaryRegion)),
			AssertDescription: jsii.String(fmt.Sprintf("The default DR Region %s pairs with %s: for another Region set the context %s to its DR Region (or %s)",
				cfg.DR.Region, defaultPrimaryRegion, ctxDRRegion, drOff)),
		}
	}
	awscdk.NewCfnRule(stack, jsii.String("BackupReplicaRegion"), &awscdk.CfnRuleProps{
		Assertions: &[]*awscdk.CfnRuleAssertion{assertion},
	})
}

// newDRStack adds the DR stack of the stacks in env (a cell's, named by
// cell, or the single cell's), in the same account and the DR Region; nil
// when replication is off.
func newDRStack(app awscdk.App, id string, cfg config, env *awscdk.Environment, cell string) *DRStack {
	if cfg.DR == nil {
		return nil
	}
	drEnv := &awscdk.Environment{Region: jsii.String(cfg.DR.Region)}
	if env != nil {
		drEnv.Account = env.Account
	}
	what := "Tessera " + cfg.Stage
	if cell != "" {
		what += " cell " + cell
	}
	return NewDRStack(app, id, &DRStackProps{
		StackProps: awscdk.StackProps{Env: drEnv, Description: jsii.String(what + ": replicas of the tenants' backups (disaster recovery)")},
		Config:     cfg,
	})
}

// dependOnDR makes data's stack deploy after dr's, whose replica bucket
// its replication configuration names.
func dependOnDR(data *DataStack, dr *DRStack) {
	if dr != nil {
		data.Stack.AddDependency(dr.Stack, jsii.String("the backup bucket replicates to the DR stack's replica bucket"))
	}
}
