package wire

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tessera-saas/tessera/internal/control/backup"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// newBackups composes the backup and restore engine on the collaborators
// of the process that runs it (the provisioner runs jobs and the schedule;
// the operator API requests jobs and lists snapshots): cat and data are
// the process's catalog and tenant-scoped store, creds the tenant
// credentials that store uses (the engine reads and writes the backup
// bucket with them too), pub the process's outbox. It makes no AWS call.
//
// The provisioner's engine also runs tier migrations: tables makes and
// removes dedicated tables (provision.Tables); nil elsewhere.
func newBackups(cfg aws.Config, s settings.Settings, cat *store.Catalog, data *store.Store, creds *access.Credentials, pub backup.Publisher,
	tables backup.DedicatedTables, log *slog.Logger) *backup.Service {
	return backup.New(backup.Deps{
		Tables:      tables,
		PooledTable: s.PooledTable,
		Grace:       s.MigrationGrace,
		Catalog:     cat,
		Data:        data,
		Creds:       creds,
		Objects:     awsconfig.NewS3(cfg),
		Bucket:      s.BackupBucket,
		Pub:         pub,
		CatalogTTL:  s.CatalogTTL,
		Cloner:      backup.CatalogCloner{Catalog: cat, Pub: pub},
		Log:         log.With("component", "backup"),
	})
}
