package main

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/platform/export"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/settings"
)

// TestExportBucket checks the export bucket: private, TLS only, encrypted,
// unversioned, objects gone after exportRetentionDays (and abandoned
// multipart uploads after a day), never emptied by CloudFormation.
func TestExportBucket(t *testing.T) {
	s := synth(t)
	check(t, "ResourceCountIs", func() {
		// The export bucket and the backup bucket (TestBackupBucket).
		s.Data.ResourceCountIs(jsii.String("AWS::S3::Bucket"), jsii.Number(2))
	})
	bucketID := s.DataJSON.logicalID(t, "AWS::S3::Bucket", "ExportBucket")
	p := props(s.DataJSON.resources("AWS::S3::Bucket")[bucketID])
	for k, want := range map[string]any{
		"PublicAccessBlockConfiguration": map[string]any{
			"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
		},
		"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{
			map[string]any{"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"}},
		}},
		"LifecycleConfiguration": map[string]any{"Rules": []any{map[string]any{
			"Id": "ExpireExports", "Status": "Enabled", "ExpirationInDays": exportRetentionDays,
			"AbortIncompleteMultipartUpload": map[string]any{"DaysAfterInitiation": 1},
		}}},
		"OwnershipControls": map[string]any{"Rules": []any{map[string]any{"ObjectOwnership": "BucketOwnerEnforced"}}},
	} {
		if jsonOf(p[k]) != jsonOf(want) {
			t.Errorf("%s = %s, want %s", k, jsonOf(p[k]), jsonOf(want))
		}
	}
	if v, ok := p["VersioningConfiguration"]; ok {
		t.Errorf("VersioningConfiguration = %s, want none (unversioned)", jsonOf(v))
	}
	// enforceSSL: a bucket policy that denies every request without TLS.
	check(t, "bucket policy", func() {
		s.Data.HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), map[string]any{
			"Bucket": ref(bucketID),
			"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{
				"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
					"Effect":    "Deny",
					"Action":    "s3:*",
					"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
				})}),
			}),
		})
	})
	// No custom resource empties it (autoDeleteObjects).
	for typ := range map[string]bool{"Custom::S3AutoDeleteObjects": true, "AWS::Lambda::Function": true} {
		if n := len(s.DataJSON.resources(typ)); n != 0 {
			t.Errorf("the data stack has %d %s resources, want none", n, typ)
		}
	}
}

// TestExportQueues checks one queue per tier, each encrypted, TLS only,
// with its own dead-letter queue after export.MaxAttempts+1 receives and a
// visibility timeout of at least six times the worker's timeout; and that
// the worker consumes each with the tier's ExportConcurrency.
func TestExportQueues(t *testing.T) {
	s := synth(t)
	workerID := s.AppJSON.logicalID(t, "AWS::Lambda::Function", fnID(functionExports)+"Function")
	timeout, _ := props(s.AppJSON.resources("AWS::Lambda::Function")[workerID])["Timeout"].(float64)
	if timeout != exportsTimeout.Seconds() {
		t.Errorf("exports Timeout = %v s, want %v s", timeout, exportsTimeout.Seconds())
	}
	sources := map[string]map[string]any{} // by queue reference
	for _, m := range s.AppJSON.resources("AWS::Lambda::EventSourceMapping") {
		if p := props(m); jsonOf(p["FunctionName"]) == jsonOf(ref(workerID)) {
			sources[flatten(p["EventSourceArn"])] = p
		}
	}
	if len(sources) != len(plan.Tiers) {
		t.Errorf("the export worker has %d event sources, want one per tier (%d)", len(sources), len(plan.Tiers))
	}
	queues := s.DataJSON.resources("AWS::SQS::Queue")
	for _, tier := range plan.Tiers {
		t.Run(string(tier), func(t *testing.T) {
			l, _ := plan.For(tier)
			qID := s.DataJSON.logicalID(t, "AWS::SQS::Queue", "Export"+title(string(tier))+"Queue")
			dlqID := s.DataJSON.logicalID(t, "AWS::SQS::Queue", "Export"+title(string(tier))+"DLQ")
			q := props(queues[qID])
			if got, want := jsonOf(q["RedrivePolicy"]), jsonOf(map[string]any{"deadLetterTargetArn": getAttArn(dlqID), "maxReceiveCount": export.MaxAttempts + 1}); got != want {
				t.Errorf("RedrivePolicy = %s, want %s", got, want)
			}
			if v, _ := q["VisibilityTimeout"].(float64); timeout <= 0 || v < 6*timeout {
				t.Errorf("VisibilityTimeout = %v s, want at least 6 × the worker's %v s", v, timeout)
			}
			for _, id := range []string{qID, dlqID} {
				if props(queues[id])["SqsManagedSseEnabled"] != true {
					t.Errorf("%s: SqsManagedSseEnabled = %v", id, props(queues[id])["SqsManagedSseEnabled"])
				}
			}
			check(t, "TLS only", func() {
				s.Data.HasResourceProperties(jsii.String("AWS::SQS::QueuePolicy"), map[string]any{
					"Queues": []any{ref(qID)},
					"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{
						"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
							"Effect": "Deny", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
						})}),
					}),
				})
			})

			src, ok := sources["${Data:"+qID+".Arn}"]
			if !ok {
				t.Fatalf("the export worker does not consume %s", qID)
			}
			for k, want := range map[string]any{
				"BatchSize":             exportsBatchSize,
				"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
				"ScalingConfig":         map[string]any{"MaximumConcurrency": l.ExportConcurrency},
			} {
				if jsonOf(src[k]) != jsonOf(want) {
					t.Errorf("event source: %s = %s, want %s", k, jsonOf(src[k]), jsonOf(want))
				}
			}

			// The api function has the queue's URL; no other function does.
			name := settings.TierEnv(settings.EnvExportQueuePrefix, tier)
			for _, spec := range functionSpecs {
				v, ok := functionVars(t, s, spec.Name)[name]
				if ok != spec.RequestsExports {
					t.Errorf("%s: %s set: %v, want %v", spec.Name, name, ok, spec.RequestsExports)
				}
				if ok && flatten(v) != "${Data:"+qID+"}" {
					t.Errorf("%s: %s = %s, want the URL of %s", spec.Name, name, flatten(v), qID)
				}
			}
		})
	}

	// The worker knows the bucket.
	bucketID := s.DataJSON.logicalID(t, "AWS::S3::Bucket", "ExportBucket")
	if v := flatten(functionVars(t, s, functionExports)[settings.EnvExportBucket]); v != "${Data:"+bucketID+"}" {
		t.Errorf("%s = %s, want the export bucket %s", settings.EnvExportBucket, v, bucketID)
	}
}

// TestExportBucketProdProtection synthesizes the data stack for stage
// prod: the export bucket is retained with the stack.
func TestExportBucketProdProtection(t *testing.T) {
	for _, tc := range []struct{ stage, want string }{{"prod", "Retain"}, {"dev", "Delete"}} {
		t.Run(tc.stage, func(t *testing.T) {
			app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
			d := NewDataStack(app, "Data", &DataStackProps{Config: config{Stage: tc.stage}})
			check(t, "bucket", func() {
				assertions.Template_FromStack(d.Stack, nil).AllResources(jsii.String("AWS::S3::Bucket"), map[string]any{
					"DeletionPolicy": tc.want, "UpdateReplacePolicy": tc.want,
				})
			})
		})
	}
}
