// Package memo owns the one bounded in-memory cache of the request path, kept
// per Lambda environment: tenant records (catalog), tenant credentials
// providers (access), verified ID tokens (local gateway) and KMS data keys
// (crypto). It gives least recently used eviction beyond a maximum size, a
// per-entry expiry set by the loader, one load for concurrent misses of the
// same key, and two options: WithRefreshAhead (reload an entry in use shortly
// before it expires, in the background) and WithMaxUses (serve an entry at
// most n times, then load anew).
//
// # Failed and cancelled loads
//
// The rule: a Get fails only with the error of a load that ran with its own
// context, or with its own context's error. A Get that can load for itself
// never fails because another caller's load, or a refresh ahead of expiry,
// failed or was cancelled. Concretely:
//
//   - A Get that joined a load another caller started (single flight) and
//     sees it fail, for any reason, while its own context is live looks
//     again: it takes a fresh entry if one appeared, joins a newer load, or
//     runs the load itself with its own context. So a Get runs at most one
//     load, and the backend sees at most one load per Get (refreshes aside),
//     as without a cache; under a persistent failure the concurrent callers
//     of a key load one after another instead of sharing one error.
//   - A refresh ahead of expiry runs detached from the caller that started
//     it; its failure is dropped. While the entry is fresh, Gets are served
//     from it; a Get that has to wait for the refresh (the entry expired or
//     was evicted meanwhile) and sees it fail loads for itself.
//   - Errors are never cached.
//
// The rule replaced two that differed. memo's waiters returned whatever the
// load they joined returned: the leader's context.Canceled or deadline, a
// failed refresh's error (after expiry, or its RefreshTimeout deadline),
// a backend error. crypto's data-key cache (its own LRU, age, use count and
// single flight) retried a waiter only when the joined load failed with a
// context error while the waiter's context was live, and returned every
// other error (KMS throttling, say) to all waiters. crypto's waiters also
// went back to the cache and took a use of the new key, where memo's took
// the load's value as is; the use budget (WithMaxUses) keeps crypto's way:
// every caller served, leader or waiter, spends one use.
//
// A load in flight when Forget runs for its key is not kept, and Gets after
// the Forget do not join it: they load anew (before, they joined it and got
// the value read before the Forget).
package memo
