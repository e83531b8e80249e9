// Package consent is the consent service: the patient app's API (register,
// grant, revoke, consents, access log, access requests) and the policy
// decision point that every other service asks before it acts.
//
// Decisions come from the OPA policies over a view of consent state that
// follows the ledger block by block. It must never allow when it cannot
// decide: a missing token, a view that is not current, an unreachable policy
// engine or an access event that cannot be recorded durably all mean deny.
// Patient-signed consent changes are relayed to the ledger as they are; this
// service cannot forge one.
package consent
