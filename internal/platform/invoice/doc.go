// Package invoice computes a tenant's monthly invoice from its tier history,
// its usage ledger's hourly request totals, its daily storage samples and
// the plan's prices (internal/platform/plan). It is pure: no clock, no AWS
// call; Compute takes everything it needs, so the rules below are tested
// with tables.
//
// The rules:
//
//   - Money is integer US cents. Each line's amount is computed exactly in
//     integers and rounded once, half up, to the cent; the total is the sum
//     of the rounded lines. Nothing is accumulated in floating point.
//   - The month is a calendar month in UTC ("2026-11": Nov 1 00:00 to Dec 1
//     00:00). An invoice of a month that has not ended is a Draft: its
//     figures are the usage so far, and the fee of the whole month as if the
//     current tier stays.
//   - Proration is by UTC day. A tier change takes effect from the start of
//     the UTC day it happened on: that whole day is billed at the new tier,
//     and when several changes fall on one day, the last one's tier is that
//     day's. A tenant is billed from the day of its first tier-history entry
//     (its creation); days before it are not billed.
//   - Consecutive days on one tier form a segment, with D its days and M
//     the days of the month; each segment has the three lines below.
//   - Subscription line: the tier's monthly fee × D / M.
//   - Included requests (of the overage line): the tier's included
//     requests × D / M, rounded half up to a whole request.
//   - Overage line: the requests made in the segment (the ledger's hourly
//     totals of the hours inside its days: hours never straddle a day, so
//     the split is exact) beyond its included requests, at the tier's
//     price per million.
//   - Storage line: the average of the segment's daily samples of stored items
//     × D / M item-months, at the tier's price per million item-months; a
//     segment without a sample bills 0 and its line says "no samples".
//   - Requests in hours outside every segment (before the tenant existed)
//     are not billed.
package invoice
