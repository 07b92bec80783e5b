package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tessera-saas/tessera/internal/pump"
	"github.com/tessera-saas/tessera/internal/settings"
	"github.com/tessera-saas/tessera/internal/wire"
)

// runBackground plays, locally, what AWS runs beside the API: the SQS event
// source that feeds the provisioning queue to the provisioner, and the
// scheduled outbox sweep. It returns when ctx ends.
func runBackground(ctx context.Context, cfg aws.Config, s settings.Settings, log *slog.Logger) {
	prov := wire.NewProvisioner(cfg, s, log.With("function", "provisioner"))
	p := pump.New(sqs.NewFromConfig(cfg), s.ProvisioningQueueURL, prov.Handle, pump.WithLogger(log.With("component", "pump")))
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
