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
// sources that feed the provisioning queue to the provisioner and each
// tier's export queue to the exports worker, and the scheduled outbox
// sweep, and the stream event source of the change feed. It returns when
// ctx ends.
func runBackground(ctx context.Context, cfg aws.Config, s settings.Settings, log *slog.Logger) {
	prov := wire.NewProvisioner(cfg, s, log.With("function", "provisioner"))
	p := pump.New(sqs.NewFromConfig(cfg), s.ProvisioningQueueURL, prov.Handle, pump.WithLogger(log.With("component", "pump")))
	runExportWorkers(ctx, cfg, s, log)
	runChangeFeed(ctx, cfg, s, log)
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
