package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/outbox"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// CatalogCloner onboards a restore's new tenant the way the operator API
// creates any tenant: a PROVISIONING record and its
// TenantOnboardingRequested event in one transaction, keyed by the job so
// that a retried call finds the same tenant. The provisioner does the rest.
type CatalogCloner struct {
	Catalog *store.Catalog
	Pub     Publisher
}

// Clone implements Cloner.
func (c CatalogCloner) Clone(ctx context.Context, src catalog.Record, name, jobID string) (catalog.Record, error) {
	now := time.Now().UTC()
	email := CloneAdminEmail(src.AdminEmail, jobID)
	rec := catalog.Record{TenantID: tenant.NewID(), Name: name, Tier: src.Tier, Status: catalog.StatusProvisioning,
		Placement: catalog.Placement{Cell: src.Placement.Cell}, AdminEmail: email, CreatedAt: now, UpdatedAt: now, Version: 1}
	ev, err := outbox.Event(bus.TenantOnboardingRequested, bus.Detail{TenantID: rec.TenantID, Tier: string(rec.Tier), CorrelationID: jobID,
		TenantName: rec.Name, AdminEmail: rec.AdminEmail})
	if err != nil {
		return catalog.Record{}, err
	}
	sum := sha256.Sum256([]byte(src.TenantID + "\x00" + name + "\x00" + jobID))
	got, replayed, err := c.Catalog.Create(ctx, rec, store.Idempotency{Owner: "restore", Key: jobID, RequestHash: hex.EncodeToString(sum[:])}, ev,
		&store.AuditEntry{Action: "create", Actor: "restore", Detail: "clone of tenant " + src.TenantID + " (job " + jobID + ")"})
	if err != nil {
		return catalog.Record{}, fmt.Errorf("create the clone of %s: %w", src.TenantID, err)
	}
	if !replayed && c.Pub != nil {
		c.Pub.PublishOrKeep(ctx, ev)
	}
	return got, nil
}

// CloneAdminEmail is the admin address of a clone of a tenant whose admin
// is email: the same mailbox, sub-addressed with the job ("a+restore-<job
// suffix>@example.com"), since the user pool holds one user per address.
// It falls back to email when the result would not be a valid address.
func CloneAdminEmail(email, jobID string) string {
	local, domain, ok := strings.Cut(email, "@")
	if !ok {
		return email
	}
	local, _, _ = strings.Cut(local, "+")
	suffix := jobID
	if len(suffix) > 10 {
		suffix = suffix[len(suffix)-10:]
	}
	out := local + "+restore-" + suffix + "@" + domain
	if !directory.ValidEmail(out) {
		return email
	}
	return out
}
