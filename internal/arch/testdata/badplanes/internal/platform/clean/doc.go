// Package clean breaks no rule.
package clean
