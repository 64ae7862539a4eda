package sign

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tapline/tapline/compliance/report"
)

// Bundle file names.
const (
	ManifestFile  = "manifest.json"
	SignatureFile = "manifest.sig"
	// ManifestFormat names the manifest's layout.
	ManifestFormat = "tapline.compliance.manifest/v1"
)

// Manifest lists a bundle's files and ties them to the ingest ledger.
type Manifest struct {
	Format      string        `json:"format"`
	RunID       string        `json:"run_id"`
	Framework   string        `json:"framework"`
	Period      report.Period `json:"period"`
	Scope       string        `json:"scope"`
	Result      report.Result `json:"result"`
	GeneratedAt time.Time     `json:"generated_at"`
	Generator   string        `json:"generator"`
	// Ledger is the ingest ledger's state for the period: whether its
	// chains verify and each chain's head hash.
	Ledger Ledger `json:"ledger"`
	Files  []File `json:"files"`
	// PublicKey (base64) and KeyID name the key that signed the manifest.
	PublicKey string `json:"public_key"`
	KeyID     string `json:"key_id"`
}

// Ledger is the ledger part of a manifest.
type Ledger struct {
	OK    bool                `json:"ok"`
	Error string              `json:"error,omitempty"`
	Heads []report.LedgerHead `json:"heads"`
}

// File is one file of the bundle.
type File struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Signature is the content of manifest.sig: the manifest's SHA-256 and
// the Ed25519 signature of the manifest's bytes.
type Signature struct {
	Algorithm      string `json:"algorithm"` // "ed25519"
	KeyID          string `json:"key_id"`
	ManifestSHA256 string `json:"manifest_sha256"`
	Signature      string `json:"signature"` // base64
}

// HashFile returns the SHA-256 (hex) and size of a file.
func HashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Seal lists every regular file of dir (other than the manifest and its
// signature) in m.Files, sets the key fields, and writes manifest.json and
// manifest.sig. It returns the manifest's bytes and the signature file.
func Seal(dir string, m Manifest, key ed25519.PrivateKey) ([]byte, Signature, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, Signature{}, fmt.Errorf("manifest: %w", err)
	}
	m.Format = ManifestFormat
	m.Files = nil
	for _, e := range entries {
		name := e.Name()
		if name == ManifestFile || name == SignatureFile {
			continue
		}
		if !e.Type().IsRegular() {
			return nil, Signature{}, fmt.Errorf("manifest: %s is not a regular file", name)
		}
		sum, size, err := HashFile(filepath.Join(dir, name))
		if err != nil {
			return nil, Signature{}, fmt.Errorf("manifest: %w", err)
		}
		m.Files = append(m.Files, File{Name: name, SHA256: sum, Size: size})
	}
	slices.SortFunc(m.Files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	pub := key.Public().(ed25519.PublicKey)
	m.PublicKey, m.KeyID = EncodePublicKey(pub), KeyID(pub)
	if m.Ledger.Heads == nil {
		m.Ledger.Heads = []report.LedgerHead{}
	}
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, Signature{}, fmt.Errorf("manifest: %w", err)
	}
	body = append(body, '\n')
	sum := sha256.Sum256(body)
	sig := Signature{
		Algorithm:      "ed25519",
		KeyID:          m.KeyID,
		ManifestSHA256: hex.EncodeToString(sum[:]),
		Signature:      base64.StdEncoding.EncodeToString(ed25519.Sign(key, body)),
	}
	sigBody, err := json.MarshalIndent(sig, "", "  ")
	if err != nil {
		return nil, Signature{}, fmt.Errorf("manifest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), body, 0o644); err != nil {
		return nil, Signature{}, fmt.Errorf("manifest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, SignatureFile), append(sigBody, '\n'), 0o644); err != nil {
		return nil, Signature{}, fmt.Errorf("manifest: %w", err)
	}
	return body, sig, nil
}

// Problem is one thing verification found wrong, naming the file.
type Problem struct {
	File   string `json:"file"`
	Reason string `json:"reason"`
}

func (p Problem) String() string { return p.File + ": " + p.Reason }

// Verification is the outcome of Verify.
type Verification struct {
	Manifest *Manifest
	// KeyID is the key the signature was checked with; Pinned says it was
	// the trusted key given to Verify rather than the manifest's own.
	KeyID    string
	Pinned   bool
	Problems []Problem
	// Checked counts the files whose hash matched.
	Checked int
}

// OK reports whether nothing was found wrong.
func (v *Verification) OK() bool { return len(v.Problems) == 0 }

// Err is nil when OK, else an error naming every problem.
func (v *Verification) Err() error {
	if v.OK() {
		return nil
	}
	var parts []string
	for _, p := range v.Problems {
		parts = append(parts, p.String())
	}
	return fmt.Errorf("%w: %s", ErrTampered, strings.Join(parts, "; "))
}

// ErrTampered is wrapped by Verification.Err.
var ErrTampered = errors.New("evidence bundle does not verify")

// Verify checks the bundle in dir: the signature over manifest.json (with
// trusted if given, else the key the manifest names), then every listed
// file's size and SHA-256, and that no file is missing or unlisted. Each
// problem names the file: a changed manifest.json and a changed
// manifest.sig are told apart with the manifest hash the signature file
// records. An error means the directory could not be read.
func Verify(dir string, trusted ed25519.PublicKey) (*Verification, error) {
	v := &Verification{}
	add := func(file, format string, args ...any) {
		v.Problems = append(v.Problems, Problem{File: file, Reason: fmt.Sprintf(format, args...)})
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	body, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		add(ManifestFile, "cannot be read: %v", err)
		return v, nil
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil || m.Format != ManifestFormat {
		add(ManifestFile, "is not a valid manifest (changed?)")
		m = Manifest{}
	} else {
		v.Manifest = &m
	}
	pub := trusted
	if pub != nil {
		v.Pinned = true
	} else if raw, err := base64.StdEncoding.DecodeString(m.PublicKey); err == nil && len(raw) == ed25519.PublicKeySize {
		pub = ed25519.PublicKey(raw)
	}
	if pub != nil {
		v.KeyID = KeyID(pub)
	}
	bodySum := sha256.Sum256(body)
	sigBody, err := os.ReadFile(filepath.Join(dir, SignatureFile))
	var sig Signature
	var sigBytes []byte
	switch {
	case err != nil:
		add(SignatureFile, "cannot be read: %v", err)
	case json.Unmarshal(sigBody, &sig) != nil || sig.Algorithm != "ed25519":
		add(SignatureFile, "is not a valid signature file (changed?)")
	default:
		sigBytes, err = base64.StdEncoding.DecodeString(sig.Signature)
		if err != nil || len(sigBytes) != ed25519.SignatureSize {
			add(SignatureFile, "holds a malformed signature (changed?)")
			sigBytes = nil
		}
	}
	if sigBytes != nil {
		switch {
		case pub == nil:
			add(ManifestFile, "names no valid public key to check the signature with")
		case ed25519.Verify(pub, body, sigBytes):
			if sig.ManifestSHA256 != hex.EncodeToString(bodySum[:]) {
				add(SignatureFile, "records a manifest hash that is not the manifest's (changed?)")
			}
			if v.Pinned && m.PublicKey != "" && m.PublicKey != EncodePublicKey(trusted) {
				add(ManifestFile, "names key %s, not the trusted key", m.KeyID)
			}
		case sig.ManifestSHA256 == hex.EncodeToString(bodySum[:]):
			if v.Pinned && m.PublicKey != EncodePublicKey(trusted) {
				add(SignatureFile, "was not made with the trusted key %s (the manifest names key %s)", KeyID(trusted), m.KeyID)
			} else {
				add(SignatureFile, "signature does not verify (changed?)")
			}
		default:
			add(ManifestFile, "changed after signing: the signature does not verify and its SHA-256 is not the one signed")
		}
	}
	listed := map[string]bool{ManifestFile: true, SignatureFile: true}
	for _, f := range m.Files {
		if f.Name == "" || f.Name != filepath.Base(f.Name) || f.Name == "." || f.Name == ".." || listed[f.Name] {
			add(ManifestFile, "lists an invalid file name %q", f.Name)
			continue
		}
		listed[f.Name] = true
		sum, size, err := HashFile(filepath.Join(dir, f.Name))
		switch {
		case err != nil:
			add(f.Name, "missing or unreadable: %v", errors.Unwrap(err))
		case sum != f.SHA256:
			add(f.Name, "changed: SHA-256 %s, manifest says %s", sum, f.SHA256)
		case size != f.Size:
			add(f.Name, "changed: size %d, manifest says %d", size, f.Size)
		default:
			v.Checked++
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	for _, e := range entries {
		if !listed[e.Name()] {
			add(e.Name(), "not listed in the manifest")
		}
	}
	return v, nil
}
