// Package shc issues and reads SMART Health Cards (spec.smarthealth.cards):
// a FHIR Bundle wrapped in a verifiable credential, raw-DEFLATE compressed
// and signed as a compact JWS with ES256 under a P-256 key whose kid is its
// RFC 7638 JWK thumbprint, carried in QR codes in the shc:/ numeric form.
// Issue signs a card, Decode parses one strictly and Card.Verify checks it
// against the issuer's key set (JWKS) without any network or clock; ParseJWKS
// reads an issuer's published key set. It must never accept an alg other
// than ES256, a zip other than DEF, a crit header, a key whose kid is not its
// thumbprint, a point off the curve or a key set carrying private key
// material; never inflate a payload beyond MaxPayloadBytes nor read a card
// beyond MaxJWSBytes; never resolve ambiguous input (duplicate member names,
// invalid UTF-8, non-canonical base64url, trailing data) but reject it; and
// never put a value from its input into an error message, which names the
// part that is wrong, not its content (a card holds health information).
// Checking nbf and exp against a clock and deciding which issuers to trust
// is the caller's job.
package shc
