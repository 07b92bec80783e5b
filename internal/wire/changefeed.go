package wire

import (
	"io"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tessera-saas/tessera/internal/control/changefeed"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// NewChangeFeed composes the changefeed function's handler: the consumer of
// the tables' streams, writing each tenant's changes to its change log in
// the backup bucket with that tenant's scoped credentials. Its EMF lines
// (lag, records) go to metrics (os.Stdout in Lambda); nil writes none. It
// makes no AWS call until it handles a batch.
func NewChangeFeed(cfg aws.Config, s settings.Settings, log *slog.Logger, metrics io.Writer) *changefeed.Handler {
	creds := access.NewCredentials(sts.NewFromConfig(cfg), s.DataAccessRoleARN)
	opts := []changefeed.Option{}
	if metrics != nil {
		opts = append(opts, changefeed.WithMetrics(metrics, s.Stage))
	}
	return changefeed.New(tenantCache(store.NewClient(cfg), s), creds, awsconfig.NewS3(cfg), s.BackupBucket, log, opts...)
}
