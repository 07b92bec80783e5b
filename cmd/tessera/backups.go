package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/recovery"
)

// Polling of a job (--wait).
const (
	jobPollInterval = 500 * time.Millisecond
	// maxPollFailures is how many polls in a row may fail (the API did not
	// answer, or answered 5xx) before --wait gives up; the job runs on.
	maxPollFailures = 5
)

// recoveryFlags are the flags of the backup and restore commands.
type recoveryFlags struct {
	wait   bool
	to     string
	into   string
	asJSON bool
}

// runRecovery runs the backup, restore and job commands of `tessera
// tenants` (pos: the positional arguments) and prints their answers.
func runRecovery(ctx context.Context, c client, cmd string, pos []string, f recoveryFlags) error {
	want := map[string]int{"backup": 1, "backups": 1, "restore": 1, "jobs": 1, "job": 2}[cmd]
	if len(pos) != want {
		return fmt.Errorf("tenants %s: expected %d argument(s), got %d", cmd, want, len(pos))
	}
	base := "/v1/tenants/" + url.PathEscape(pos[0])
	switch cmd {
	case "backup":
		return c.startJob(ctx, pos[0], base+"/backups", nil, f.wait)
	case "restore":
		if f.to == "" {
			return errors.New("tenants restore: --to is required (an RFC 3339 time, such as 2024-05-01T12:00:00Z)")
		}
		if _, err := time.Parse(time.RFC3339, f.to); err != nil {
			return fmt.Errorf("tenants restore: --to %q is not an RFC 3339 time (such as 2024-05-01T12:00:00Z)", f.to)
		}
		body := map[string]string{"to": f.to}
		if f.into != "" {
			body["intoNewTenant"] = f.into
		}
		return c.startJob(ctx, pos[0], base+"/restores", body, f.wait)
	case "backups":
		out, err := c.do(ctx, "GET", base+"/backups", nil, nil)
		if err != nil {
			return err
		}
		if f.asJSON {
			return printJSON(os.Stdout, out)
		}
		var list struct {
			Items []recovery.Snapshot `json:"items"`
		}
		if err := reshape(out, &list); err != nil {
			return fmt.Errorf("tenants backups: %w", err)
		}
		return snapshotTable(os.Stdout, list.Items)
	case "jobs":
		out, err := c.do(ctx, "GET", base+"/jobs", nil, nil)
		if err != nil {
			return err
		}
		return printJSON(os.Stdout, out)
	case "job":
		out, err := c.do(ctx, "GET", base+"/jobs/"+url.PathEscape(pos[1]), nil, nil)
		if err != nil {
			return err
		}
		return printJSON(os.Stdout, out)
	}
	return fmt.Errorf("tenants: unknown command %q", cmd)
}

// startJob asks for a backup or restore job and prints it; with wait, it
// polls the job until it ends, showing its progress on standard error,
// prints the job as it ended, and fails unless it SUCCEEDED.
func (c client) startJob(ctx context.Context, tenantID, path string, body any, wait bool) error {
	out, err := c.do(ctx, "POST", path, body, nil)
	if err != nil {
		return err
	}
	if !wait {
		return printJSON(os.Stdout, out)
	}
	var j recovery.Job
	if err := reshape(out, &j); err != nil {
		return fmt.Errorf("job answer: %w", err)
	}
	out, j, err = c.waitJob(ctx, tenantID, j.ID, jobPollInterval, os.Stderr, isTerminal(os.Stderr))
	if err != nil {
		return err
	}
	if err := printJSON(os.Stdout, out); err != nil {
		return err
	}
	return jobOutcome(j)
}

// migrationStart bounds how long tier --wait waits for the provisioner to
// begin the migration a tier change asks for.
const migrationStart = 2 * time.Minute

// tenantAnswer is the part of a tenant record tier --wait reads.
type tenantAnswer struct {
	Tier      string `json:"tier"`
	Placement struct {
		Dedicated bool `json:"dedicated"`
	} `json:"placement"`
	Migration *struct {
		JobID     string    `json:"jobId"`
		StartedAt time.Time `json:"startedAt"`
	} `json:"migration"`
}

// needsMove reports whether the tenant's placement does not fit its tier
// (premium tenants have a table of their own).
func (t tenantAnswer) needsMove() bool { return (t.Tier == "premium") != t.Placement.Dedicated }

// waitTier follows a tier change (answer: the tenant as the change left
// it, at began): when it crosses the pooled/dedicated line, it waits for
// the migration to begin, follows its job as waitJob does, and prints the
// tenant as it ended up; it fails unless the migration SUCCEEDED.
func (c client) waitTier(ctx context.Context, tenantID string, answer any, began time.Time, out, w io.Writer, tty bool) error {
	var rec tenantAnswer
	if err := reshape(answer, &rec); err != nil {
		return fmt.Errorf("tenant answer: %w", err)
	}
	path := "/v1/tenants/" + url.PathEscape(tenantID)
	deadline := time.Now().Add(migrationStart)
	for rec.Migration == nil || rec.Migration.StartedAt.Before(began.Add(-5*time.Second)) {
		if !rec.needsMove() {
			return printJSON(out, answer) // no data to move
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("tier %s: no migration began within %s; see the provisioner's log", rec.Tier, migrationStart)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(jobPollInterval):
		}
		var err error
		if answer, err = c.do(ctx, "GET", path, nil, nil); err != nil {
			return err
		}
		if err := reshape(answer, &rec); err != nil {
			return fmt.Errorf("tenant answer: %w", err)
		}
	}
	_, j, err := c.waitJob(ctx, tenantID, rec.Migration.JobID, jobPollInterval, w, tty)
	if err != nil {
		return err
	}
	if answer, err = c.do(ctx, "GET", path, nil, nil); err != nil {
		return err
	}
	if err := printJSON(out, answer); err != nil {
		return err
	}
	return jobOutcome(j)
}

// jobOutcome is nil for a job that SUCCEEDED, else an error with its reason.
func jobOutcome(j recovery.Job) error {
	if j.State == recovery.StateSucceeded {
		return nil
	}
	reason := j.Reason
	if reason == "" {
		reason = "no reason given"
	}
	return fmt.Errorf("%s job %s ended %s: %s", j.Kind, j.ID, j.State, reason)
}

// waitJob polls the job every interval until it ends, writing its
// progress to w: on a terminal one line rewritten in place, otherwise a
// line each time its phase or state changes. It returns the job as the API
// answered it and decoded.
func (c client) waitJob(ctx context.Context, tenantID, jobID string, every time.Duration, w io.Writer, tty bool) (any, recovery.Job, error) {
	path := "/v1/tenants/" + url.PathEscape(tenantID) + "/jobs/" + url.PathEscape(jobID)
	var (
		p        progress
		failures int
	)
	for {
		out, err := c.do(ctx, "GET", path, nil, nil)
		switch {
		case ctx.Err() != nil:
			return nil, recovery.Job{}, ctx.Err()
		case err != nil:
			var he *httpError
			if failures++; (errors.As(err, &he) && he.Status < 500) || failures >= maxPollFailures {
				if tty {
					fmt.Fprintln(w)
				}
				return nil, recovery.Job{}, fmt.Errorf("wait for job %s: %w", jobID, err)
			}
		default:
			failures = 0
			var j recovery.Job
			if err := reshape(out, &j); err != nil {
				return nil, recovery.Job{}, fmt.Errorf("job %s: %w", jobID, err)
			}
			line, changed := p.observe(j, time.Now())
			switch {
			case tty:
				fmt.Fprint(w, "\r\x1b[K"+line)
			case changed:
				fmt.Fprintln(w, line)
			}
			if j.State.Done() {
				if tty {
					fmt.Fprintln(w)
				}
				return out, j, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, recovery.Job{}, ctx.Err()
		case <-time.After(every):
		}
	}
}

// progress follows a job's progress across polls: the rate is that of the
// current phase, from the first poll that saw it.
type progress struct {
	key    string // phase and state last seen
	phase  recovery.Phase
	since  time.Time
	doneAt int64
}

// observe records the job j as seen at now and returns its progress line
// and whether its phase or state changed since the last call (the first
// call is a change).
func (p *progress) observe(j recovery.Job, now time.Time) (string, bool) {
	key := string(j.Phase) + "/" + string(j.State)
	changed := key != p.key
	p.key = key
	if j.Phase != p.phase || p.since.IsZero() {
		p.phase, p.since, p.doneAt = j.Phase, now, j.ItemsDone
	}
	rate := -1.0 // unknown
	if elapsed := now.Sub(p.since).Seconds(); elapsed > 0 {
		rate = float64(max(j.ItemsDone-p.doneAt, 0)) / elapsed
	}
	return progressLine(j, rate), changed
}

// progressLine is one line of a job's progress: kind, id, state, phase,
// items done (of items, when known) and the rate in items per second
// (rate < 0: not known yet).
func progressLine(j recovery.Job, rate float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s phase=%s items=%d", j.Kind, j.ID, j.State, j.Phase, j.ItemsDone)
	if j.Items > 0 {
		fmt.Fprintf(&b, "/%d", j.Items)
	}
	if rate >= 0 {
		fmt.Fprintf(&b, " rate=%.0f items/s", rate)
	}
	if j.Reason != "" && j.State.Done() {
		fmt.Fprintf(&b, " reason=%q", j.Reason)
	}
	return b.String()
}

// shortChecksum is how many characters of a checksum the table shows.
const shortChecksum = 12

// snapshotTable writes a tenant's backups as a table.
func snapshotTable(w io.Writer, snaps []recovery.Snapshot) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SNAPSHOT\tTRIGGER\tCOMPLETED\tITEMS\tBYTES\tCHECKSUM")
	for _, s := range snaps {
		sum := s.Checksum
		if len(sum) > shortChecksum {
			sum = sum[:shortChecksum]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", s.ID, s.Trigger, s.CompletedAt.UTC().Format(time.RFC3339), s.Items, s.Bytes, sum)
	}
	return tw.Flush()
}

// reshape decodes a JSON value the client decoded generically into dst.
func reshape(v, dst any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, dst)
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
