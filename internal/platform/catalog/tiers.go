package catalog

import "time"

// TierChange is one entry of a tenant's tier history: from At on, the
// tenant is on tier To (From is the tier before; empty for the tier the
// tenant was created with). The store writes one in the same transaction
// as the change itself, and never changes it (internal/platform/store,
// Catalog.TierHistory); invoices prorate by it (internal/platform/invoice).
type TierChange struct {
	TenantID string    `dynamodbav:"tenantId" json:"tenantId"`
	From     Tier      `dynamodbav:"from,omitempty" json:"from,omitempty"`
	To       Tier      `dynamodbav:"to" json:"to"`
	At       time.Time `dynamodbav:"at" json:"at"`
}

// InitialTier is the entry that stands for the tier a tenant was created
// with, for tenants older than the tier history: its record's creation time
// and, lacking any recorded change, its current tier.
func InitialTier(rec Record) TierChange {
	return TierChange{TenantID: rec.TenantID, To: rec.Tier, At: rec.CreatedAt}
}
