package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tessera-saas/tessera/internal/control/fleet"
	"github.com/tessera-saas/tessera/internal/wire"
)

const fleetHelp = `tessera fleet: roll data migrations and TenantStack template versions across every tenant, in waves

Usage:
  tessera fleet targets                      every migration and the current template version, with counts
  tessera fleet plan TARGET                  the waves: canaries (wave 0), growing waves, premium last
  tessera fleet apply TARGET [--wave N] [--max-concurrency K] [--failure-threshold P]
                                             run the waves in order (or wave N only), K tenants at a time;
                                             stop when more than P % of a wave fail (the canaries: any)
  tessera fleet status [TARGET]              per wave: current, pending, failed (with the reasons)
  tessera fleet rollback MIGRATION [--wave N] [--max-concurrency K] [--failure-threshold P]
                                             run the migration's Down, last wave first

TARGET is migration/0001 (or 0001, or product-sku-key) or stack (the checked-in template version).
Common flags: --tenants ID,ID (only these), --canaries ID,ID (default TESSERA_FLEET_CANARIES, else
the first tenant), --actor NAME (default $USER), --format text|json.
`

type fleetFlags struct {
	wave        int
	concurrency int
	threshold   float64
	tenants     string
	canaries    string
	actor       string
	format      string
}

func runFleet(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Print(fleetHelp)
		return nil
	}
	cmd, rest := args[0], args[1:]
	var pos []string
	for len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		pos, rest = append(pos, rest[0]), rest[1:]
	}
	fs := flag.NewFlagSet("fleet "+cmd, flag.ContinueOnError)
	var f fleetFlags
	fs.IntVar(&f.wave, "wave", -1, "run only this wave (the earlier ones must be done)")
	fs.IntVar(&f.concurrency, "max-concurrency", 4, "tenants worked on at once")
	fs.Float64Var(&f.threshold, "failure-threshold", 0, "percentage of a wave's tenants that may fail before the rollout stops")
	fs.StringVar(&f.tenants, "tenants", "", "only these tenants (comma-separated ids)")
	fs.StringVar(&f.canaries, "canaries", "", "the canary tenants (comma-separated ids)")
	fs.StringVar(&f.actor, "actor", os.Getenv("USER"), "who runs the rollout (recorded and audited)")
	fs.StringVar(&f.format, "format", "text", "text or json")
	if err := fs.Parse(rest); err != nil {
		return err
	}
	pos = append(pos, fs.Args()...)
	if f.format != "text" && f.format != "json" {
		return errors.New("fleet: --format must be text or json")
	}
	if f.actor == "" {
		f.actor = "operator"
	}
	cfg, s, err := loadConfig(ctx)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if os.Getenv("TESSERA_LOG") != "" {
		log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	r, err := wire.NewFleet(cfg, s, log, wire.FleetOptions{Only: ids(f.tenants), Canaries: ids(f.canaries), StackPoll: time.Second})
	if err != nil {
		return err
	}
	return fleetCommand(ctx, r, cmd, pos, f, os.Stdout, os.Stderr)
}

func ids(csv string) []string {
	var out []string
	for _, id := range strings.Split(csv, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

// fleetCommand runs one fleet command on r: answers to w, each tenant's
// end (apply, rollback) to progress as it happens.
func fleetCommand(ctx context.Context, r *fleet.Runner, cmd string, pos []string, f fleetFlags, w, progress io.Writer) error {
	target := func() (fleet.Target, error) {
		if len(pos) != 1 {
			return fleet.Target{}, fmt.Errorf("fleet %s: want one TARGET (migration/0001 or stack)", cmd)
		}
		return r.Target(pos[0])
	}
	switch cmd {
	case "targets":
		var out []planSummary
		for _, t := range r.Targets() {
			p, err := r.Plan(ctx, t)
			if err != nil {
				return err
			}
			out = append(out, summarize(p))
		}
		if f.format == "json" {
			return printJSON(w, out)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TARGET\tWAVES\tTENANTS\tCURRENT\tPENDING\tFAILED\tBUSY")
		for _, p := range out {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", p.Target, p.Waves, p.Tenants, p.Current, p.Pending, p.Failed, p.Busy)
		}
		return tw.Flush()
	case "plan", "status":
		var targets []fleet.Target
		if cmd == "status" && len(pos) == 0 {
			targets = r.Targets()
		} else {
			t, err := target()
			if err != nil {
				return err
			}
			targets = []fleet.Target{t}
		}
		var plans []fleet.Plan
		for _, t := range targets {
			p, err := r.Plan(ctx, t)
			if err != nil {
				return err
			}
			plans = append(plans, p)
		}
		if f.format == "json" {
			if len(plans) == 1 {
				return printJSON(w, plans[0])
			}
			return printJSON(w, plans)
		}
		for _, p := range plans {
			if err := printPlan(w, p, cmd == "plan"); err != nil {
				return err
			}
		}
		return nil
	case "apply", "rollback":
		t, err := target()
		if err != nil {
			return err
		}
		o := fleet.Options{Wave: f.wave, MaxConcurrency: f.concurrency, FailureThreshold: f.threshold, Actor: f.actor,
			Progress: func(p fleet.Progress) {
				line := fmt.Sprintf("wave %d  %d/%d  %s  %-12s  %d changed  %s", p.Wave, p.Done, p.Total, p.TenantID, p.Outcome, p.Changed, p.Took.Round(time.Millisecond))
				if p.Error != "" {
					line += "  " + p.Error
				}
				fmt.Fprintln(progress, line)
			}}
		began := time.Now()
		var rep fleet.Report
		if cmd == "apply" {
			rep, err = r.Apply(ctx, t, o)
		} else {
			rep, err = r.Rollback(ctx, t, o)
		}
		if f.format == "json" {
			if perr := printJSON(w, rep); perr != nil {
				return perr
			}
		} else {
			for _, wr := range rep.Waves {
				fmt.Fprintf(w, "wave %d: %d tenants: %d done, %d current, %d failed, %d busy\n", wr.Wave, wr.Tenants, wr.Done, wr.Current, wr.Failed, wr.Busy)
				for _, fl := range wr.Failures {
					fmt.Fprintf(w, "  %s: %s\n", fl.TenantID, fl.Error)
				}
			}
			fmt.Fprintf(w, "%s %s in %s\n", cmd, rep.Target, time.Since(began).Round(time.Millisecond))
		}
		return err
	}
	return fmt.Errorf("fleet: unknown command %q\n\n%s", cmd, fleetHelp)
}

type planSummary struct {
	Target                                         string `json:"target"`
	Waves, Tenants, Current, Pending, Failed, Busy int
}

func summarize(p fleet.Plan) planSummary {
	s := planSummary{Target: p.Target, Waves: len(p.Waves)}
	for _, w := range p.Waves {
		c := w.Counts()
		s.Tenants += len(w.Tenants)
		s.Current += c[fleet.StateCurrent]
		s.Failed += c[fleet.StateFailed]
		s.Busy += c[fleet.StateBusy]
		s.Pending += len(w.Tenants) - c[fleet.StateCurrent] - c[fleet.StateFailed] - c[fleet.StateBusy]
	}
	return s
}

func printPlan(w io.Writer, p fleet.Plan, all bool) error {
	s := summarize(p)
	fmt.Fprintf(w, "%s: %d waves, %d tenants: %d current, %d pending, %d failed, %d busy\n", p.Target, s.Waves, s.Tenants, s.Current, s.Pending, s.Failed, s.Busy)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WAVE\tTENANT\tTIER\tSTATE\tITEMS\tBY\tENDED\tERROR")
	for _, wave := range p.Waves {
		for _, t := range wave.Tenants {
			if !all && t.State == fleet.StateCurrent && t.Run == nil {
				continue
			}
			items, by, ended, msg := "", "", "", ""
			if t.Run != nil {
				items = fmt.Sprintf("%d/%d", t.Run.Changed, t.Run.Scanned)
				by = t.Run.By
				if !t.Run.EndedAt.IsZero() {
					ended = t.Run.EndedAt.Format(time.RFC3339)
				}
				msg = t.Run.Error
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", wave.Number, t.TenantID, t.Tier, t.State, items, by, ended, msg)
		}
	}
	return tw.Flush()
}
