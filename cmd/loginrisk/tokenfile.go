package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// tokenFileName is the file name of the generated admin token in its
// default folder.
const tokenFileName = "loginrisk-admin-token"

// defaultTokenFile is where the generated admin token goes when
// http.token_file is not set: $XDG_RUNTIME_DIR (a per-user tmpfs, 0700)
// when set, else the user's cache folder (~/.cache, or $XDG_CACHE_HOME).
func defaultTokenFile() (string, error) {
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		return filepath.Join(dir, tokenFileName), nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("http.token_file is not set and there is no folder for it (%w); set it", err)
	}
	return filepath.Join(dir, "loginrisk", "admin-token"), nil
}

// newAdminToken returns a random token: 128 bits, hex.
func newAdminToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// writeTokenFile writes token to path with mode 0600, creating its folder
// (0700) if needed. The file is written under a temporary name and
// renamed over path, so it is never readable with a wider mode, nor
// half-written, and a link at path is replaced rather than followed.
func writeTokenFile(path, token string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("http.token_file: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("http.token_file: %w", err)
	}
	tmp := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.WriteString(token + "\n")
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("http.token_file %s: %w", path, err)
	}
	return nil
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
