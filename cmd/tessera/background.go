package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tessera-saas/tessera/internal/local/pump"
	"github.com/tessera-saas/tessera/internal/local/streampump"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/wire"
)

// runBackground plays, locally, what AWS runs beside the API: the SQS event
// sources that feed the provisioning queue to the provisioner (onboarding,
// tier changes, offboarding, backup and restore jobs: bus.ProvisioningEvents)
// and each tier's export queue to the exports worker, the scheduled outbox
// sweep, the backup schedule, and the stream event source of the change
// feed. It returns when ctx ends.
func runBackground(ctx context.Context, cfg aws.Config, s settings.Settings, log *slog.Logger) {
	prov := wire.NewProvisioner(cfg, s, log.With("function", "provisioner"))
	p := pump.New(sqs.NewFromConfig(cfg), s.ProvisioningQueueURL, prov.Handle, pump.WithLogger(log.With("component", "pump")))
	runExportWorkers(ctx, cfg, s, log)
	runChangeFeed(ctx, cfg, s, log)
	go runBackupSchedule(ctx, prov.Backups, backupScheduleDelay, backupScheduleEvery, log.With("component", "backup-schedule"))
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := prov.Outbox.Sweep(ctx, 5*time.Second, 100); err != nil && ctx.Err() == nil {
					log.Warn("outbox sweep", "error", err.Error())
				}
			}
		}
	}()
	if err := p.Run(ctx); err != nil && ctx.Err() == nil {
		log.Error("provisioning pump stopped", "error", err.Error())
	}
}

// runExportWorkers starts, per tier, plan.For(tier).ExportConcurrency pumps
// on the tier's export queue, all calling the exports worker in process:
// what the event source's MaximumConcurrency does in AWS. Each receives one
// message at a time, so one pump is one export in flight. It returns at
// once; the pumps stop when ctx ends.
func runExportWorkers(ctx context.Context, cfg aws.Config, s settings.Settings, log *slog.Logger) {
	w := wire.NewExports(cfg, s, log.With("function", "exports"))
	q := sqs.NewFromConfig(cfg)
	for _, t := range plan.Tiers {
		l, _ := plan.For(t)
		url := s.ExportQueueURLs[t]
		if url == "" {
			log.Warn("no export queue for tier; its exports stay queued", "tier", string(t))
			continue
		}
		go func() {
			err := pump.RunPool(ctx, l.ExportConcurrency, q, url, w.Handle, pump.WithBatchSize(1),
				pump.WithWaitTime(20*time.Second), pump.WithLogger(log.With("component", "pump", "tier", string(t))))
			if err != nil && ctx.Err() == nil {
				log.Error("export pumps stopped", "tier", string(t), "error", err.Error())
			}
		}()
	}
}

// runChangeFeed plays the event source mapping of the changefeed function:
// a stream pump on the pooled table's and the dedicated tables' streams,
// calling the change feed in process (its EMF lines go to the log). It
// returns at once; the pump stops when ctx ends.
func runChangeFeed(ctx context.Context, cfg aws.Config, s settings.Settings, log *slog.Logger) {
	feed := wire.NewChangeFeed(cfg, s, log.With("function", "changefeed"), nil)
	p := streampump.New(dynamodbstreams.NewFromConfig(cfg),
		streampump.TableMatcher(s.PooledTable, access.DedicatedTablePrefix(s.Stage)), cfg.Region, feed.Handle,
		streampump.WithLogger(log.With("component", "streampump")))
	go p.Run(ctx)
}

// The local backup schedule: a first look a minute after start (once the
// demo tenants are onboarded), then one a minute. A tenant is backed up when
// its newest snapshot is older than its tier's interval
// (plan.Limits.BackupInterval), so most looks request nothing.
const (
	backupScheduleDelay = time.Minute
	backupScheduleEvery = time.Minute
)

// backupScheduler requests the backups that are due (backup.Service).
type backupScheduler interface {
	ScheduleBackups(ctx context.Context) (int, error)
}

// runBackupSchedule plays, locally, the deployment's backup schedule (a
// rule that asks the provisioner for the backups that are due): after
// delay, then every every, it requests the backups of the tenants that are
// due (the provisioner runs them, from the events on its queue) and logs
// how many. It returns when ctx ends.
func runBackupSchedule(ctx context.Context, b backupScheduler, delay, every time.Duration, log *slog.Logger) {
	if b == nil {
		log.Warn("no backup service; scheduled backups are off")
		return
	}
	wait := time.NewTimer(delay)
	defer wait.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wait.C:
		}
		n, err := b.ScheduleBackups(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("scheduled backups", "requested", n, "error", err.Error())
		case err == nil:
			log.Info("scheduled backups", "requested", n)
		}
		wait.Reset(every)
	}
}
