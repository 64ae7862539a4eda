// Package sign makes an evidence bundle tamper-evident: a manifest listing
// every file with its SHA-256 and size, the ingest ledger chain heads of
// the period, and the signer's public key, signed with Ed25519; and the
// verification that names what was changed.
//
// Keys are PKCS #8 PEM files created on first use with mode 0600. The
// package must not render reports or query the store.
package sign
