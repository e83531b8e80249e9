// Package anonymize de-identifies research datasets: from the rows of patients
// who consented to research it builds a file in which no patient can be
// singled out. The steps are applied in order: direct identifiers are dropped
// (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)), the patient id is replaced by a
// keyed pseudonym, quasi-identifiers are generalized (5-year age bands with
// 90+, ZIP3 with sparsely populated prefixes as "000", dates to the year or
// shifted per patient), k-anonymity is enforced over the quasi-identifiers,
// wearable readings are summarized, and Verify re-checks the result
// independently of the code that produced it.
//
// It must never output a direct identifier or a column the Schema does not
// declare, keep, export or serialize a dataset's pseudonym key (one key per
// dataset, so two datasets cannot be joined on pseudonyms), release a
// quasi-identifier group with fewer than k patients, or put a raw value into
// an error message. It fails closed: a schema that would output an identifier,
// a value it cannot parse or a cohort smaller than k is an error, never a
// best-effort release.
package anonymize
