package trigger

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/baton-run/baton/internal/engine"
)

// HookTolerance is how far a Standard Webhooks timestamp may be from the
// server's clock.
const HookTolerance = 5 * time.Minute

// Hook stores the body of an inbound webhook as an event of the trigger's
// type (source "webhook:NAME") and starts the runs it matches. When the
// trigger has a secret, the request must be signed either the Standard
// Webhooks way (webhook-id, webhook-timestamp within HookTolerance,
// webhook-signature "v1,BASE64" of HMAC-SHA256 over "id.timestamp.body")
// or GitHub's (X-Hub-Signature-256: "sha256=HEX" of HMAC-SHA256 over the
// body); otherwise it fails with ErrUnauthorized and stores nothing. The
// webhook-id or X-GitHub-Delivery header is the dedup key, so a
// redelivered webhook starts nothing twice. The event fires the named
// trigger only, never another trigger of the same type (a signed trigger
// fires on nothing but its own verified webhooks).
func (s *Service) Hook(ctx context.Context, name string, header http.Header, body []byte) (*EmitResult, error) {
	row, err := s.queries.TriggerSecret(ctx, s.pool, name)
	if err != nil {
		return nil, translate(err, fmt.Sprintf("trigger %q", name))
	}
	if !row.Enabled {
		return nil, fmt.Errorf("trigger %q is disabled: %w", name, engine.ErrNotFound)
	}
	if len(row.SecretSealed) > 0 {
		if s.sealer == nil {
			return nil, fmt.Errorf("trigger %q: %w", name, ErrNoSecretKey)
		}
		secret, err := s.sealer.Open(row.SecretSealed, sealedIn)
		if err != nil {
			return nil, fmt.Errorf("trigger %q: %w", name, err)
		}
		if err := s.verify(secret, header, body); err != nil {
			return nil, fmt.Errorf("trigger %q: %w: %w", name, ErrUnauthorized, err)
		}
	}
	key := header.Get(standardwebhooks.HeaderWebhookID)
	if key == "" {
		key = header.Get("X-GitHub-Delivery")
	}
	if len(key) > 200 {
		key = key[:200]
	}
	var res *EmitResult
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		res, err = s.emitTx(ctx, tx, EventParams{Type: row.EventType, Payload: body, DedupKey: key, Source: webhookSourcePrefix + name})
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// verify checks the request's signature with secret.
func (s *Service) verify(secret []byte, header http.Header, body []byte) error {
	if sig := header.Get("X-Hub-Signature-256"); sig != "" {
		hexSig, ok := strings.CutPrefix(sig, "sha256=")
		got, err := hex.DecodeString(hexSig)
		if !ok || err != nil {
			return errors.New("X-Hub-Signature-256: want sha256=HEX")
		}
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		if !hmac.Equal(got, mac.Sum(nil)) {
			return errors.New("X-Hub-Signature-256 does not match the body")
		}
		return nil
	}
	if header.Get(standardwebhooks.HeaderWebhookSignature) == "" {
		return errors.New("no signature: send webhook-id, webhook-timestamp and webhook-signature, or X-Hub-Signature-256")
	}
	ts, err := strconv.ParseInt(header.Get(standardwebhooks.HeaderWebhookTimestamp), 10, 64)
	if err != nil {
		return errors.New("webhook-timestamp: want Unix seconds")
	}
	if d := s.now().Sub(time.Unix(ts, 0)); d > HookTolerance || d < -HookTolerance {
		return fmt.Errorf("webhook-timestamp is %s away from the server's clock (tolerance %s)", d.Round(time.Second), HookTolerance)
	}
	var wh *standardwebhooks.Webhook
	if text := string(secret); strings.HasPrefix(text, "whsec_") {
		wh, err = standardwebhooks.NewWebhook(text)
	} else {
		wh, err = standardwebhooks.NewWebhookRaw(secret)
	}
	if err != nil {
		return fmt.Errorf("signing secret: %w", err)
	}
	// The timestamp was checked above against the injected clock.
	if err := wh.VerifyIgnoringTimestamp(body, header); err != nil {
		return errors.New("webhook-signature does not match")
	}
	return nil
}
