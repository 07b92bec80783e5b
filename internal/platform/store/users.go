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

const (
	entityUser    = "USER"
	entityInvites = "INVITES"
)

// Errors of users and invitations.
var (
	// ErrInviteLimit: the tenant has sent as many invitations today (UTC) as
	// its plan allows.
	ErrInviteLimit = errors.New("store: daily invitation limit reached")
	errNoSub       = errors.New("store: user record without a sub")
)

// UserRecord is a tenant's record of one of its users (the user itself lives
// in Cognito). It is keyed by the user's sub, which never changes, not by
// the email, which can: offboarding reads these records and deletes each
// user by its sub. Email is the address the user was invited with.
type UserRecord struct {
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	Sub       string    `json:"sub"`
	CreatedAt time.Time `json:"createdAt"`
}

type userItem struct {
	key
	Email     string    `dynamodbav:"email"`
	Role      string    `dynamodbav:"role"`
	CreatedAt time.Time `dynamodbav:"createdAt"`
}

func (it userItem) record() UserRecord {
	return UserRecord{Email: it.Email, Role: it.Role, Sub: it.SK, CreatedAt: it.CreatedAt}
}

// PutUser records a user of the caller's tenant unless its sub is recorded
// already, and returns the record as stored: a retried write returns the
// first one, with its creation time, unchanged.
func (d TenantData) PutUser(ctx context.Context, u UserRecord) (UserRecord, error) {
	if u.Sub == "" {
		return UserRecord{}, errNoSub
	}
	s, sc, err := d.open(ctx)
	if err != nil {
		return UserRecord{}, err
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now().UTC()
	}
	it := userItem{key: tenantKey(sc.tenantID, entityUser, u.Sub), Email: u.Email, Role: u.Role, CreatedAt: u.CreatedAt}
	absent := expression.AttributeNotExists(expression.Name(attrPK))
	err = s.putItem(ctx, sc, it, &absent)
	if IsCondCheckFailed(err) {
		var stored userItem
		cc, found, err := getItem(ctx, s.ddb, sc.table, it.key, true, &stored, returnCapacity, sc.opts)
		consumed(ctx, readCapacity, one(cc)...)
		if err != nil {
			return UserRecord{}, fmt.Errorf("read user: %w", err)
		}
		if found {
			return stored.record(), nil
		}
		return UserRecord{}, fmt.Errorf("put user: %s recorded and gone", u.Sub)
	}
	if err != nil {
		return UserRecord{}, fmt.Errorf("put user: %w", err)
	}
	return u, nil
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
		page.Items = append(page.Items, it.record())
	}
	return page, nil
}

// Invitation counters: one item per tenant and UTC day, in the tenant's own
// partition, counting the invitations of that day. Its InviteExpiryAttribute
// (epoch seconds, two days after the day began) is the TTL attribute of the
// pooled and dedicated tables, which expire old counters; offboarding purges
// the counters with the rest.
const (
	attrInvites = "invites"
	// InviteExpiryAttribute is the TTL attribute of invitation counters.
	InviteExpiryAttribute = "expiresAt"
)

// CountInvite counts one invitation of the caller's tenant for today (UTC)
// if fewer than limit were counted today, and returns ErrInviteLimit
// otherwise, writing nothing. resetAt is when the count starts again (the
// next UTC midnight).
func (d TenantData) CountInvite(ctx context.Context, limit int) (resetAt time.Time, err error) {
	s, sc, err := d.open(ctx)
	if err != nil {
		return time.Time{}, err
	}
	day := s.now().UTC().Truncate(24 * time.Hour)
	resetAt = day.Add(24 * time.Hour)
	if limit <= 0 {
		return resetAt, ErrInviteLimit
	}
	k := tenantKey(sc.tenantID, entityInvites, day.Format(time.DateOnly))
	cond := expression.AttributeNotExists(expression.Name(attrInvites)).
		Or(expression.Name(attrInvites).LessThan(expression.Value(limit)))
	upd := expression.Add(expression.Name(attrInvites), expression.Value(1)).
		Set(expression.Name(InviteExpiryAttribute), expression.Value(day.Add(48*time.Hour).Unix()))
	err = s.updateItem(ctx, sc, k, cond, upd, nil)
	if IsCondCheckFailed(err) {
		return resetAt, ErrInviteLimit
	}
	if err != nil {
		return resetAt, fmt.Errorf("count invite: %w", err)
	}
	return resetAt, nil
}

// purgeEntities are the partitions of a tenant's items in a table: its data,
// the feed markers and the fence (offboarding, and a migration removing the
// copy a tenant has left, delete them all).
var purgeEntities = append(append([]string(nil), DataPartitions...), entityFeedMarker, entityFence)

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
	return s.writeBatch(ctx, sc, reqs)
}
