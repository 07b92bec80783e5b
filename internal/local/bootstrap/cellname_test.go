package bootstrap

import (
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/settings"
)

func TestEachLocalCellHasResourcesOfItsOwn(t *testing.T) {
	base := settings.Defaults()
	c1, c2 := ForCell(base, "c1"), ForCell(base, "c2")
	if c1.PooledTable != base.PooledTable || c1.CatalogTable != base.CatalogTable || c1.EventBus != base.EventBus || c1.ExportBucket != base.ExportBucket {
		t.Errorf("cell c1 (the default) renamed its resources: %+v", c1)
	}
	for name, pair := range map[string][2]string{
		"pooled table":       {c1.PooledTable, c2.PooledTable},
		"catalog":            {c1.CatalogTable, c2.CatalogTable},
		"bus":                {c1.EventBus, c2.EventBus},
		"export bucket":      {c1.ExportBucket, c2.ExportBucket},
		"provisioning queue": {CellName(c1.Cell, ProvisioningQueue), CellName(c2.Cell, ProvisioningQueue)},
		"export queue":       {CellName(c1.Cell, ExportQueueName("basic")), CellName(c2.Cell, ExportQueueName("basic"))},
	} {
		if pair[0] == pair[1] {
			t.Errorf("cells c1 and c2 share the %s %s", name, pair[0])
		}
	}
	if c2.Cell != "c2" || c2.UserPoolID != base.UserPoolID {
		t.Errorf("c2 = cell %s, pool %q: want c2 and the stage's one pool", c2.Cell, c2.UserPoolID)
	}
	if got := CellName("c2", ProvisioningQueue); got != "tessera-c2-provisioning" {
		t.Errorf("CellName(c2, %s) = %s", ProvisioningQueue, got)
	}
}
