package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// A tenant's state in each fleet rollout (internal/control/fleet) lives in
// the catalog beside its profile: pk TENANT#<id>, sk FLEET#<target>, for
// example FLEET#migration/0001-product-sku-key or FLEET#stack/2. It says
// which migrations and template versions the tenant has, when they ran and
// who ran them, and where a run that stopped resumes.
const fleetPrefix = "FLEET#"

// FleetRun is one tenant's state in one rollout target.
type FleetRun struct {
	TenantID string `dynamodbav:"tenantId" json:"tenantId"`
	Target   string `dynamodbav:"target" json:"target"`
	// State is the fleet package's: applying, applied, failed,
	// rolling-back, rolled-back.
	State string `dynamodbav:"state" json:"state"`
	// Pass is the running state of the latest pass (applying or
	// rolling-back), which a failed run resumes.
	Pass string `dynamodbav:"pass,omitempty" json:"-"`
	Wave int    `dynamodbav:"wave" json:"wave"`
	// Checkpoint is the sort key of the last item processed by the
	// running (or stopped) pass; empty when a pass starts.
	Checkpoint string    `dynamodbav:"checkpoint,omitempty" json:"checkpoint,omitempty"`
	Scanned    int64     `dynamodbav:"scanned" json:"itemsScanned"`
	Changed    int64     `dynamodbav:"changed" json:"itemsChanged"`
	By         string    `dynamodbav:"by" json:"by"`
	StartedAt  time.Time `dynamodbav:"startedAt" json:"startedAt"`
	EndedAt    time.Time `dynamodbav:"endedAt,omitempty" json:"endedAt,omitempty"`
	Error      string    `dynamodbav:"error,omitempty" json:"error,omitempty"`
	// Owner holds the run until HeldUntil (Unix milliseconds): another
	// runner leaves the tenant alone meanwhile.
	Owner     string `dynamodbav:"owner,omitempty" json:"-"`
	HeldUntil int64  `dynamodbav:"heldUntil,omitempty" json:"-"`
	// Rev counts the saves; a save names the Rev it read (optimistic).
	Rev int64 `dynamodbav:"rev" json:"-"`
}

type fleetItem struct {
	key
	FleetRun
}

func fleetKey(tenantID, target string) key {
	return key{PK: catalogTenantPrefix + tenantID, SK: fleetPrefix + target}
}

// FleetRuns lists the tenant's rollout states (consistent reads).
func (c *Catalog) FleetRuns(ctx context.Context, tenantID string) ([]FleetRun, error) {
	out, err := queryPrefix[FleetRun](ctx, c.ddb, c.table, catalogTenantPrefix+tenantID, fleetPrefix)
	if err != nil {
		return nil, fmt.Errorf("fleet runs of %s: %w", tenantID, err)
	}
	return out, nil
}

// GetFleetRun reads the tenant's state in target; found is false when the
// tenant has none.
func (c *Catalog) GetFleetRun(ctx context.Context, tenantID, target string) (FleetRun, bool, error) {
	var it fleetItem
	_, found, err := getItem(ctx, c.ddb, c.table, fleetKey(tenantID, target), true, &it, "")
	if err != nil {
		return FleetRun{}, false, fmt.Errorf("fleet run %s of %s: %w", target, tenantID, err)
	}
	return it.FleetRun, found, nil
}

// ErrRunChanged: the tenant's run was saved by someone else since it was
// read (another runner took it over).
var ErrRunChanged = errors.New("store: the fleet run changed since it was read")

// SaveFleetRun writes run if the stored one is still at run.Rev (absent
// for Rev 0), with its audit entry in the same transaction, and returns it
// at its new Rev; ErrRunChanged otherwise.
func (c *Catalog) SaveFleetRun(ctx context.Context, run FleetRun, audit *AuditEntry) (FleetRun, error) {
	cond := expression.AttributeNotExists(expression.Name(attrPK))
	if run.Rev > 0 {
		cond = expression.Name("rev").Equal(expression.Value(run.Rev))
	}
	run.Rev++
	put, err := putWhen(c.table, fleetItem{key: fleetKey(run.TenantID, run.Target), FleetRun: run}, cond)
	if err != nil {
		return FleetRun{}, err
	}
	side, err := c.sideItems(ctx, run.TenantID, nil, audit)
	if err != nil {
		return FleetRun{}, err
	}
	_, err = c.ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append([]types.TransactWriteItem{put}, side...)})
	if err == nil {
		committed(ctx, audit)
	}
	if reasons := cancellation(err); failedAt(reasons, 0) {
		return FleetRun{}, fmt.Errorf("fleet run %s of %s: %w", run.Target, run.TenantID, ErrRunChanged)
	}
	if err != nil {
		return FleetRun{}, fmt.Errorf("save fleet run %s of %s: %w", run.Target, run.TenantID, err)
	}
	return run, nil
}
