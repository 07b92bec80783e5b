package seed

import (
	"context"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
)

// Cloner onboards a restore's new tenant the way Ensure onboards a demo
// tenant (its own key, a pooled placement, an admin signing in with
// Password), where no provisioner runs: the backup engine's tests and
// benchmark. It implements backup.Cloner; the admin is
// clone-<job>@<Domain>, so a retried call finds the same tenant.
type Cloner struct {
	Deps     Deps
	Password string
	Domain   string
}

// Clone implements backup.Cloner.
func (c Cloner) Clone(ctx context.Context, src catalog.Record, name, jobID string) (catalog.Record, error) {
	return Ensure(ctx, c.Deps, Spec{Name: name, Tier: src.Tier, AdminEmail: "clone-" + jobID + "@" + c.Domain, Password: c.Password})
}
