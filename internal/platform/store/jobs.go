package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
)

// Backup and restore jobs live in the catalog beside their tenant's
// profile: pk TENANT#<id>, sk JOB#<job id>. Job ids sort by time, so a
// tenant's jobs list oldest first.
const jobPrefix = "JOB#"

type jobItem struct {
	key
	recovery.Job
	// ExpiresAt (the catalog's TTL attribute, epoch seconds) is set when a
	// job ends: JobRetention later its record goes, as its backups have.
	ExpiresAt int64 `dynamodbav:"expiresAt,omitempty"`
}

// JobRetention is how long an ended job's record is kept: the longest
// backup retention of any tier, and a day.
const JobRetention = 36 * 24 * time.Hour

func jobKey(tenantID, jobID string) key {
	return key{PK: catalogTenantPrefix + tenantID, SK: jobPrefix + jobID}
}

// CreateJob records a new job of its tenant, with the outbox event that
// starts it and its audit entry, in one transaction; ErrExists when the id
// is taken. It does not check the tenant's state: the caller's Change does
// that (ApplyWithJob).
func (c *Catalog) CreateJob(ctx context.Context, job recovery.Job, ev *OutboxEvent, audit *AuditEntry) error {
	put, err := putIfAbsent(c.table, jobItem{key: jobKey(job.TenantID, job.ID), Job: job})
	if err != nil {
		return err
	}
	side, err := c.sideItems(ctx, job.TenantID, ev, audit)
	if err != nil {
		return err
	}
	exists, err := c.tenantExists(job.TenantID)
	if err != nil {
		return err
	}
	_, err = c.ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append([]types.TransactWriteItem{put, exists}, side...)})
	if err == nil {
		committed(ctx, audit)
	}
	if reasons := cancellation(err); reasons != nil {
		if failedAt(reasons, 1) {
			return fmt.Errorf("job %s of tenant %s: %w", job.ID, job.TenantID, catalog.ErrNotFound)
		}
		if failedAt(reasons, 0) {
			return fmt.Errorf("job %s: %w", job.ID, ErrExists)
		}
	}
	if err != nil {
		return fmt.Errorf("create job %s of tenant %s: %w", job.ID, job.TenantID, err)
	}
	return nil
}

// tenantExists is a transaction check that the tenant's profile exists.
func (c *Catalog) tenantExists(tenantID string) (types.TransactWriteItem, error) {
	av, err := attributevalue.MarshalMap(catalogKey(tenantID))
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("marshal key: %w", err)
	}
	expr, err := expression.NewBuilder().WithCondition(expression.AttributeExists(expression.Name(attrPK))).Build()
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("build condition: %w", err)
	}
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(c.table), Key: av,
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names()}}, nil
}

// GetJob reads a job of a tenant; recovery.ErrJobNotFound when absent.
func (c *Catalog) GetJob(ctx context.Context, tenantID, jobID string) (recovery.Job, error) {
	var it jobItem
	_, found, err := getItem(ctx, c.ddb, c.table, jobKey(tenantID, jobID), true, &it, "")
	if err != nil {
		return recovery.Job{}, fmt.Errorf("read job %s of tenant %s: %w", jobID, tenantID, err)
	}
	if !found {
		return recovery.Job{}, fmt.Errorf("job %s of tenant %s: %w", jobID, tenantID, recovery.ErrJobNotFound)
	}
	return it.Job, nil
}

// ErrJobChanged: the job was saved by someone else since it was read (its
// version moved on).
var ErrJobChanged = errors.New("store: job changed since it was read")

// SaveJob writes job if its stored version is still job.Version, and
// returns it with the next version; ErrJobChanged otherwise. ev and audit,
// when set, are written in the same transaction (a job's end is announced
// and audited exactly when it is recorded).
func (c *Catalog) SaveJob(ctx context.Context, job recovery.Job, ev *OutboxEvent, audit *AuditEntry) (recovery.Job, error) {
	prev := job.Version
	job.Version++
	job.UpdatedAt = c.now().UTC()
	it := jobItem{key: jobKey(job.TenantID, job.ID), Job: job}
	if job.State.Done() {
		it.ExpiresAt = job.UpdatedAt.Add(JobRetention).Unix()
	}
	put, err := putWhen(c.table, it, expression.Name(attrVersion).Equal(expression.Value(prev)))
	if err != nil {
		return recovery.Job{}, err
	}
	side, err := c.sideItems(ctx, job.TenantID, ev, audit)
	if err != nil {
		return recovery.Job{}, err
	}
	_, err = c.ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append([]types.TransactWriteItem{put}, side...)})
	if err == nil {
		committed(ctx, audit)
	}
	if reasons := cancellation(err); reasons != nil && failedAt(reasons, 0) {
		return recovery.Job{}, fmt.Errorf("save job %s: %w", job.ID, ErrJobChanged)
	}
	if err != nil {
		return recovery.Job{}, fmt.Errorf("save job %s of tenant %s: %w", job.ID, job.TenantID, err)
	}
	return job, nil
}

// ListJobs returns a tenant's jobs, oldest first.
func (c *Catalog) ListJobs(ctx context.Context, tenantID string) ([]recovery.Job, error) {
	items, err := queryPrefix[jobItem](ctx, c.ddb, c.table, catalogTenantPrefix+tenantID, jobPrefix)
	if err != nil {
		return nil, fmt.Errorf("jobs of %s: %w", tenantID, err)
	}
	out := make([]recovery.Job, 0, len(items))
	for _, it := range items {
		out = append(out, it.Job)
	}
	return out, nil
}

// RecentJobs returns up to n of the tenant's newest jobs, newest first.
func (c *Catalog) RecentJobs(ctx context.Context, tenantID string, n int32) ([]recovery.Job, error) {
	expr, err := expression.NewBuilder().WithKeyCondition(
		expression.Key(attrPK).Equal(expression.Value(catalogTenantPrefix + tenantID)).And(expression.Key(attrSK).BeginsWith(jobPrefix))).Build()
	if err != nil {
		return nil, fmt.Errorf("build key condition: %w", err)
	}
	out, err := c.ddb.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(c.table), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ConsistentRead: aws.Bool(true),
		ScanIndexForward: aws.Bool(false), Limit: aws.Int32(n)})
	if err != nil {
		return nil, fmt.Errorf("recent jobs of %s: %w", tenantID, err)
	}
	var items []jobItem
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
		return nil, fmt.Errorf("unmarshal jobs: %w", err)
	}
	jobs := make([]recovery.Job, 0, len(items))
	for _, it := range items {
		jobs = append(jobs, it.Job)
	}
	return jobs, nil
}

// queryPrefix reads every item of partition pk whose sort key begins with
// prefix, in sort key order, into T, with a consistent read (queryPartition).
func queryPrefix[T any](ctx context.Context, ddb DynamoDB, table, pk, prefix string) ([]T, error) {
	sk := expression.Key(attrSK).BeginsWith(prefix)
	return queryPartition[T](ctx, ddb, table, pk, &sk, nil)
}
