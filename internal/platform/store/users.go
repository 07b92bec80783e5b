package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const entityUser = "USER"

// UserRecord is a tenant's record of one of its users (the user itself lives
// in Cognito). Offboarding reads these to remove the tenant's users.
type UserRecord struct {
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	Sub       string    `json:"sub,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

type userItem struct {
	key
	Role      string    `dynamodbav:"role"`
	Sub       string    `dynamodbav:"sub"`
	CreatedAt time.Time `dynamodbav:"createdAt"`
}

// PutUser records a user of the caller's tenant (idempotent).
func (d TenantData) PutUser(ctx context.Context, u UserRecord) error {
	s, sc, err := d.open(ctx)
	if err != nil {
		return err
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now().UTC()
	}
	if err := s.putItem(ctx, sc, userItem{key: tenantKey(sc.tenantID, entityUser, u.Email), Role: u.Role, Sub: u.Sub, CreatedAt: u.CreatedAt}, nil); err != nil {
		return fmt.Errorf("put user: %w", err)
	}
	return nil
}

// ListUsers returns a page of the caller's tenant's users.
func (d TenantData) ListUsers(ctx context.Context, req PageRequest) (Page[UserRecord], error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return Page[UserRecord]{}, err
	}
	var items []userItem
	next, err := s.query(ctx, sc, entityUser, req, &items)
	if err != nil {
		return Page[UserRecord]{}, fmt.Errorf("list users: %w", err)
	}
	page := Page[UserRecord]{Items: make([]UserRecord, 0, len(items)), Next: next}
	for _, it := range items {
		page.Items = append(page.Items, UserRecord{Email: it.SK, Role: it.Role, Sub: it.Sub, CreatedAt: it.CreatedAt})
	}
	return page, nil
}

// purgeEntities are the partitions of a tenant's data.
var purgeEntities = []string{entityProduct, entitySKU, entityOrder, entityUser, entityExport}

// PurgeTenant deletes every item of the caller's tenant from its table (only
// its own partitions; with its own scoped credentials) and returns how many
// it deleted. It is idempotent.
func (d TenantData) PurgeTenant(ctx context.Context) (int, error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return 0, err
	}
	deleted := 0
	for _, entity := range purgeEntities {
		expr, err := expression.NewBuilder().
			WithKeyCondition(expression.Key(attrPK).Equal(expression.Value(partitionKey(sc.tenantID, entity)))).
			WithProjection(expression.NamesList(expression.Name(attrPK), expression.Name(attrSK))).Build()
		if err != nil {
			return deleted, fmt.Errorf("build query: %w", err)
		}
		p := dynamodb.NewQueryPaginator(queryOnly{s.ddb, sc}, &dynamodb.QueryInput{TableName: aws.String(sc.table),
			KeyConditionExpression: expr.KeyCondition(), ProjectionExpression: expr.Projection(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ConsistentRead: aws.Bool(true)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return deleted, fmt.Errorf("purge %s: %w", entity, err)
			}
			for start := 0; start < len(page.Items); start += 25 {
				end := min(start+25, len(page.Items))
				if err := s.deleteBatch(ctx, sc, page.Items[start:end]); err != nil {
					return deleted, fmt.Errorf("purge %s: %w", entity, err)
				}
				deleted += end - start
			}
		}
	}
	return deleted, nil
}

// queryOnly adapts the store's client to the SDK paginator, with the
// scope's credentials.
type queryOnly struct {
	ddb DynamoDB
	sc  scope
}

func (q queryOnly) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return q.ddb.Query(ctx, in, append(opts, q.sc.opts)...)
}

// batchBackoff spaces the retries of unprocessed batch items: the SDK's own
// exponential backoff with full jitter, capped at 5 s.
var batchBackoff = retry.NewExponentialJitterBackoff(5 * time.Second)

// deleteBatch deletes up to 25 keys, retrying unprocessed ones with backoff.
func (s *Store) deleteBatch(ctx context.Context, sc scope, keys []map[string]types.AttributeValue) error {
	reqs := make([]types.WriteRequest, 0, len(keys))
	for _, k := range keys {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
	}
	pending := map[string][]types.WriteRequest{sc.table: reqs}
	for attempt := 0; len(pending[sc.table]) > 0; attempt++ {
		if attempt == 8 {
			return errors.New("batch delete: items still unprocessed after 8 attempts")
		}
		if attempt > 0 {
			delay, err := batchBackoff.BackoffDelay(attempt, nil)
			if err != nil {
				return fmt.Errorf("batch delete: %w", err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(delay):
			}
		}
		out, err := s.ddb.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending}, sc.opts)
		if err != nil {
			return fmt.Errorf("batch delete: %w", err)
		}
		pending = out.UnprocessedItems
	}
	return nil
}
