package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"github.com/tessera-saas/tessera/internal/control/tenantstack"
	"github.com/tessera-saas/tessera/internal/platform/access"
)

// Errors of Tables.Update. Both come as a *StackError, which names the
// stack, its status and CloudFormation's reason.
var (
	// ErrStackUpdateFailed: CloudFormation refused the update or ran it and
	// failed. UPDATE_ROLLBACK_COMPLETE, the usual end, leaves the stack on
	// its previous version (CloudFormation's own rollback: Update never
	// disables it), usable and updatable again; UPDATE_ROLLBACK_FAILED
	// needs an operator (ContinueUpdateRollback).
	ErrStackUpdateFailed = errors.New("provision: the stack update failed")
	// ErrStackNotUpdatable: the tenant has no stack, or its stack is in a
	// state CloudFormation updates from no more (being deleted, its
	// creation failed or rolled back, its last rollback failed).
	ErrStackNotUpdatable = errors.New("provision: the stack cannot be updated")
)

// StackError is an error of Tables.Update: ErrStackUpdateFailed or
// ErrStackNotUpdatable, with what DescribeStacks said.
type StackError struct {
	Stack string
	// Status and Reason are the stack's status and status reason; empty
	// when the stack does not exist.
	Status cfntypes.StackStatus
	Reason string
	// Version is the version the stack runs after all (stackVersion);
	// empty when it does not exist.
	Version string
	kind    error
}

func (e *StackError) Error() string {
	switch {
	case e.Status == "":
		return fmt.Sprintf("%v: stack %s: %s", e.kind, e.Stack, e.Reason)
	case e.Reason == "":
		return fmt.Sprintf("%v: stack %s is %s (template version %s)", e.kind, e.Stack, e.Status, e.Version)
	default:
		return fmt.Sprintf("%v: stack %s is %s (template version %s): %s", e.kind, e.Stack, e.Status, e.Version, e.Reason)
	}
}

// Unwrap returns ErrStackUpdateFailed or ErrStackNotUpdatable.
func (e *StackError) Unwrap() error { return e.kind }

func stackError(kind error, name string, st *cfntypes.Stack, reason string) *StackError {
	e := &StackError{Stack: name, Reason: reason, kind: kind}
	if st != nil {
		e.Status, e.Version = st.StackStatus, stackVersion(st)
		if e.Reason == "" {
			e.Reason = aws.ToString(st.StackStatusReason)
		}
	}
	return e
}

// Update updates the tenant's TenantStack to the checked-in template
// (tenantstack.TemplateBody, version tenantstack.Version) in place, waits
// until CloudFormation is done, reading the stack every Poll, and returns
// the version the stack then runs. A stack at that version already is
// success ("No updates are to be performed").
//
// The update keeps every parameter's value (UsePreviousValue; a parameter
// new in the template takes its default) and the stack's tags (it sends
// none, so it needs no tagging permission); its
// ClientRequestToken is the tenant's and the version's, so a retried call
// follows the update it started instead of starting another; and
// CloudFormation rolls a failed update back (rollback is never disabled).
// A stack CloudFormation is working on (an onboarding, an earlier attempt)
// is waited for first.
//
// Errors: ErrStackUpdateFailed when the update failed (rolled back, or
// refused), ErrStackNotUpdatable when the stack is missing or in a state
// that updates no more, both as a *StackError; the context's error when it
// ends first (CloudFormation carries on; a later Update follows it).
func (t Tables) Update(ctx context.Context, tenantID string) (string, error) {
	return t.update(ctx, tenantID, tenantstack.TemplateBody(), tenantstack.Version())
}

// StackVersion is the template version the tenant's stack runs: its
// TemplateVersion output, else tenantstack.FirstVersion (a stack made before templates recorded their
// version). A missing stack is ErrStackNotUpdatable.
func (t Tables) StackVersion(ctx context.Context, tenantID string) (string, error) {
	name := StackName(t.Settings.Stage, tenantID)
	st, err := t.describeStack(ctx, name)
	if err != nil {
		return "", err
	}
	if st == nil {
		return "", stackError(ErrStackNotUpdatable, name, nil, "does not exist")
	}
	return stackVersion(st), nil
}

// stackVersion is the version st runs (Tables.StackVersion): its output,
// which is part of the template, so CloudFormation's rollback restores it
// with the resources. (Not a tag: LocalStack ignores UpdateStack's tags,
// and a tag key of its own would need every role's tag conditions.)
func stackVersion(st *cfntypes.Stack) string {
	if v := output(st, tenantstack.OutputTemplateVersion); v != "" {
		return v
	}
	return tenantstack.FirstVersion
}

// output is the value of st's output key, or "".
func output(st *cfntypes.Stack, key string) string {
	for _, o := range st.Outputs {
		if aws.ToString(o.OutputKey) == key {
			return aws.ToString(o.OutputValue)
		}
	}
	return ""
}

// updateToken is the ClientRequestToken of the update of tenantID's stack
// to version (CloudFormation's pattern [a-zA-Z][-a-zA-Z0-9]*, at most 128
// characters: tenant ids are lowercase letters, digits and '-', versions
// digits).
func updateToken(tenantID, version string) string { return "update-" + tenantID + "-v" + version }

// working reports whether CloudFormation is working on a stack in status
// s, which Update waits out. REVIEW_IN_PROGRESS (a stack made by a change
// set that nobody executed) waits for no one.
func working(s cfntypes.StackStatus) bool {
	return strings.HasSuffix(string(s), "_IN_PROGRESS") && s != cfntypes.StackStatusReviewInProgress
}

// updatable reports whether CloudFormation updates a stack in status s: a
// complete one, or one whose last update it rolled back (on its previous
// version). Not CREATE_FAILED, ROLLBACK_COMPLETE (a creation that failed:
// delete it), UPDATE_ROLLBACK_FAILED (ContinueUpdateRollback first) and
// the like; nor a status this code does not know.
func updatable(s cfntypes.StackStatus) bool {
	switch s {
	case cfntypes.StackStatusCreateComplete, cfntypes.StackStatusUpdateComplete, cfntypes.StackStatusUpdateRollbackComplete,
		cfntypes.StackStatusImportComplete, cfntypes.StackStatusImportRollbackComplete:
		return true
	}
	return false
}

func (t Tables) update(ctx context.Context, tenantID, body, version string) (string, error) {
	name := StackName(t.Settings.Stage, tenantID)
	st, err := t.settled(ctx, name)
	if err != nil {
		return "", err
	}
	if !updatable(st.StackStatus) {
		return "", stackError(ErrStackNotUpdatable, name, st, "")
	}
	params, err := keptParameters(st, body)
	if err != nil {
		return "", err
	}
	_, err = t.Stacks.UpdateStack(ctx, &cloudformation.UpdateStackInput{
		StackName:          aws.String(name),
		TemplateBody:       aws.String(body),
		Parameters:         params,
		ClientRequestToken: aws.String(updateToken(tenantID, version)),
		DisableRollback:    aws.Bool(false),
	})
	var ae smithy.APIError
	var token *cfntypes.TokenAlreadyExistsException
	switch {
	case err == nil, errors.As(err, &token):
		// Started, or started before with this token: follow it.
	case errors.As(err, &ae) && strings.Contains(ae.ErrorMessage(), "No updates are to be performed"):
		if v := stackVersion(st); v != version {
			return "", stackError(ErrStackUpdateFailed, name, st,
				fmt.Sprintf("CloudFormation found nothing to update, yet the stack reports template version %s, not %s", v, version))
		}
		return version, nil
	case errors.As(err, &ae) && strings.Contains(ae.ErrorMessage(), "does not exist"):
		return "", stackError(ErrStackNotUpdatable, name, nil, "does not exist")
	case errors.As(err, &ae) && ae.ErrorCode() != "Throttling":
		// ValidationError, InsufficientCapabilitiesException; moto answers
		// a resource it fails to make here, with UnknownError.
		return "", stackError(ErrStackUpdateFailed, name, st, "UpdateStack refused: "+ae.ErrorCode()+": "+ae.ErrorMessage())
	default:
		return "", fmt.Errorf("update stack %s to template version %s: %w", name, version, err)
	}
	if st, err = t.settled(ctx, name); err != nil {
		return "", err
	}
	// UPDATE_ROLLBACK_COMPLETE (CloudFormation rolled it back), or
	// UPDATE_ROLLBACK_FAILED, or LocalStack's UPDATE_FAILED, or someone
	// else's operation in between.
	if st.StackStatus != cfntypes.StackStatusUpdateComplete {
		return "", stackError(ErrStackUpdateFailed, name, st, "")
	}
	// Done, and in place: the same table, at the new version. (LocalStack's
	// UpdateStack reports a failed update complete, with the outputs lost.)
	if v := stackVersion(st); v != version {
		return "", stackError(ErrStackUpdateFailed, name, st, fmt.Sprintf("the stack runs template version %s after the update to %s", v, version))
	}
	if table := output(st, tenantstack.OutputTableName); table != access.DedicatedTable(t.Settings.Stage, tenantID) {
		return "", stackError(ErrStackUpdateFailed, name, st, fmt.Sprintf("its %s output is %q after the update", tenantstack.OutputTableName, table))
	}
	return version, nil
}

// settled reads the stack every Poll while CloudFormation works on it and
// returns it once it has settled; a missing stack is ErrStackNotUpdatable.
// A settled stack without a status reason gets the last one seen on the
// way (CloudFormation explains a rollback while it rolls back).
func (t Tables) settled(ctx context.Context, name string) (*cfntypes.Stack, error) {
	var reason *string
	for {
		st, err := t.describeStack(ctx, name)
		if err != nil {
			return nil, err
		}
		if st == nil {
			return nil, stackError(ErrStackNotUpdatable, name, nil, "does not exist")
		}
		if !working(st.StackStatus) {
			if aws.ToString(st.StackStatusReason) == "" {
				st.StackStatusReason = reason
			}
			return st, nil
		}
		if aws.ToString(st.StackStatusReason) != "" {
			reason = st.StackStatusReason
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stack %s is still %s: %w", name, st.StackStatus, ctx.Err())
		case <-time.After(t.poll()):
		}
	}
}

// keptParameters are UpdateStack's parameters: every parameter of the
// stack that body declares, with its previous value. Parameters body no
// longer declares are left out (CloudFormation refuses them), and those it
// adds take their defaults.
func keptParameters(st *cfntypes.Stack, body string) ([]cfntypes.Parameter, error) {
	var tmpl struct {
		Parameters map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(body), &tmpl); err != nil {
		return nil, fmt.Errorf("TenantStack template: %w", err)
	}
	var params []cfntypes.Parameter
	for _, p := range st.Parameters {
		if _, ok := tmpl.Parameters[aws.ToString(p.ParameterKey)]; ok {
			params = append(params, cfntypes.Parameter{ParameterKey: p.ParameterKey, UsePreviousValue: aws.Bool(true)})
		}
	}
	slices.SortFunc(params, func(a, b cfntypes.Parameter) int { return strings.Compare(*a.ParameterKey, *b.ParameterKey) })
	return params, nil
}
