package cli

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/baton-run/baton/internal/alert"
	"github.com/baton-run/baton/internal/secret"
	"github.com/baton-run/baton/internal/trigger"
	"github.com/baton-run/baton/internal/webhook"
)

// alertService returns the alert service of rt. Channel secrets are sealed
// with the server's secret key (serverKey); without one, channels that
// need a secret are refused.
func (env *environment) alertService(rt *runtime) (*alert.Service, error) {
	key, err := env.serverKey()
	if err != nil {
		return nil, err
	}
	if key == nil {
		env.logger.Warn("BATON_SECRET_KEY is not set: alert channels that need a secret (webhook, slack, email with a password) and triggers with a webhook secret cannot be created")
	}
	return alert.New(rt.pool, alert.Options{
		Logger: env.logger, SecretKey: key, AllowPrivate: os.Getenv("BATON_ALLOW_PRIVATE_HTTP") == "true",
	})
}

// webhookService returns the outbound webhook service of rt; signing
// secrets are sealed with the server's secret key.
func (env *environment) webhookService(rt *runtime) (*webhook.Service, error) {
	key, err := env.serverKey()
	if err != nil {
		return nil, err
	}
	return webhook.New(rt.pool, webhook.Options{
		Logger: env.logger, SecretKey: key, AllowPrivate: os.Getenv("BATON_ALLOW_PRIVATE_HTTP") == "true",
	})
}

// triggerService returns the trigger service of rt; webhook secrets are
// sealed with the server's secret key.
func (env *environment) triggerService(rt *runtime) (*trigger.Service, error) {
	key, err := env.serverKey()
	if err != nil {
		return nil, err
	}
	return trigger.New(rt.pool, rt.engine, trigger.Options{Logger: env.logger, SecretKey: key})
}

// serverKey returns the key that seals stored secrets: BATON_SECRET_KEY
// (32 bytes, base64 or hex); without it, `baton dev` keeps a key in
// <home>/secret.key (created once, mode 0600), and other commands have
// none (nil).
func (env *environment) serverKey() ([]byte, error) {
	switch text := os.Getenv("BATON_SECRET_KEY"); {
	case text != "":
		k, err := secret.ParseKey(text)
		if err != nil {
			return nil, fmt.Errorf("BATON_SECRET_KEY: %w", err)
		}
		return k, nil
	case env.secretKeyFile != "":
		return loadOrCreateKey(env.secretKeyFile)
	default:
		return nil, nil
	}
}

func loadOrCreateKey(path string) ([]byte, error) {
	text, err := os.ReadFile(path)
	if err == nil {
		key, err := secret.ParseKey(string(text))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create secret key: %w", err)
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("create secret key: %w", err)
	}
	return key, nil
}
