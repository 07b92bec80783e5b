package wire

import (
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tessera-saas/tessera/internal/control/fleet"
	"github.com/tessera-saas/tessera/internal/control/provision"
	"github.com/tessera-saas/tessera/internal/control/tenantstack"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// FleetOptions shape the fleet runner the CLI composes.
type FleetOptions struct {
	// Only limits the rollout to these tenants (empty: all).
	Only []string
	// Canaries replace the settings' canary tenants when set.
	Canaries []string
	// StackPoll is how often a stack update's status is read (0: the
	// updater's default).
	StackPoll time.Duration
}

// NewFleet composes the fleet runner (the fleet Lambda and `tessera
// fleet`): the catalog, the tenant-scoped store, the TenantStacks. It makes
// no AWS call.
func NewFleet(cfg aws.Config, s settings.Settings, log *slog.Logger, o FleetOptions) (*fleet.Runner, error) {
	ddb := store.NewClient(cfg)
	cat := store.NewCatalog(ddb, s.CatalogTable).WithCursorKeySource(cursorKey(cfg, s))
	creds := access.NewCredentials(sts.NewFromConfig(cfg), s.DataAccessRoleARN)
	data := store.New(ddb, crypto.NewEnvelope(kms.NewFromConfig(cfg)), store.WithCredentials(creds))
	tables := provision.Tables{Stacks: cloudformation.NewFromConfig(cfg), Settings: s, Poll: o.StackPoll}
	canaries := s.FleetCanaries
	if len(o.Canaries) > 0 {
		canaries = o.Canaries
	}
	d := fleet.Deps{Catalog: cat, Data: data, Stacks: tables, Template: tenantstack.Version(),
		Policy: fleet.Policy{Canaries: canaries}, Log: log.With("component", "fleet"), Owner: owner()}
	if len(o.Only) > 0 {
		only := map[string]bool{}
		for _, id := range o.Only {
			only[id] = true
		}
		d.Only = func(rec catalog.Record) bool { return only[rec.TenantID] }
	}
	return fleet.New(d)
}

// owner names this process as a fleet run's holder.
func owner() string {
	host, _ := os.Hostname()
	return "fleet-" + host + "-" + writerID()
}
