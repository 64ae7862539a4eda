package sign_test

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/compliance/sign"
)

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "signing.key")
	k1, created, err := sign.LoadOrCreateKey(path)
	require.NoError(t, err)
	require.True(t, created)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	k2, created, err := sign.LoadOrCreateKey(path)
	require.NoError(t, err)
	require.False(t, created)
	require.True(t, k1.Equal(k2), "the key is read back, not made again")

	require.NoError(t, os.Chmod(path, 0o644))
	_, _, err = sign.LoadOrCreateKey(path)
	require.ErrorContains(t, err, "readable by others")

	pub := k1.Public().(ed25519.PublicKey)
	for name, text := range map[string][]byte{
		"pem":     sign.PublicKeyPEM(pub),
		"base64":  []byte(sign.EncodePublicKey(pub) + "\n"),
		"private": mustRead(t, path),
	} {
		got, err := sign.ParsePublicKey(text)
		require.NoError(t, err, name)
		require.True(t, pub.Equal(got), name)
	}
	_, err = sign.ParsePublicKey([]byte("not a key"))
	require.Error(t, err)
}

func mustRead(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func TestSealAndVerify(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte("alpha"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.txt"), []byte("beta"), 0o644))
	_, key, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	_, sig, err := sign.Seal(dir, sign.Manifest{RunID: "r"}, key)
	require.NoError(t, err)
	require.Equal(t, "ed25519", sig.Algorithm)
	v, err := sign.Verify(dir, key.Public().(ed25519.PublicKey))
	require.NoError(t, err)
	require.True(t, v.OK(), v.Err())
	require.Equal(t, 2, v.Checked)
	require.True(t, v.Pinned)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.txt"), []byte("BETA"), 0o644))
	v, err = sign.Verify(dir, nil)
	require.NoError(t, err)
	require.Equal(t, []sign.Problem{{File: "b.txt", Reason: v.Problems[0].Reason}}, v.Problems)

	_, err = sign.Verify(filepath.Join(dir, "missing"), nil)
	require.Error(t, err)
}
