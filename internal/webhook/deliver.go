package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/baton-run/baton/internal/dbsqlc"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
)

// ErrPermanent marks a delivery failure no retry will fix (a refused
// private address, a secret that does not open, a deleted or disabled
// subscription).
var ErrPermanent = errors.New("permanent delivery failure")

// IsPermanent reports whether a delivery error should not be retried.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrPermanent) || errors.Is(err, engine.ErrNotFound)
}

// responseHeadBytes is how much of a receiver's answer is kept.
const responseHeadBytes = 1024

// Attempt is one logged attempt of a delivery.
type Attempt struct {
	Attempt      int
	Succeeded    bool
	StatusCode   *int
	LatencyMs    float64
	ResponseHead string // the first bytes of the answer
	Error        string
	At           time.Time
}

// Delivery is one event sent (or to send) to one subscription.
type Delivery struct {
	ID         int64
	WebhookID  int64
	MessageID  string // webhook-id: the same on every attempt and redelivery
	EventType  string
	EventID    *int64
	Payload    json.RawMessage
	Status     string // pending, succeeded, failed
	Attempts   []Attempt
	CreatedAt  time.Time
	FinishedAt *time.Time
}

func deliveryFrom(d *dbsqlc.BatonWebhookDelivery) *Delivery {
	return &Delivery{ID: d.ID, WebhookID: d.WebhookID, MessageID: d.MessageID, EventType: d.EventType,
		EventID: d.EventID, Payload: d.Payload, Status: d.Status, CreatedAt: d.CreatedAt, FinishedAt: d.FinishedAt,
		Attempts: []Attempt{}}
}

// Deliver makes one attempt of a delivery (jobAttempt counts from 1 up to
// maxAttempts) and logs it. A failure is returned for River to retry; on
// the last attempt the delivery is marked failed and counts against its
// subscription, which is disabled (with a webhook_disabled event) after
// DisableAfter failed deliveries in a row. A deleted or disabled
// subscription sends nothing: the delivery fails with ErrPermanent.
func (s *Service) Deliver(ctx context.Context, deliveryID int64, jobAttempt, maxAttempts int) error {
	row, err := s.queries.WebhookDeliveryForSend(ctx, s.pool, deliveryID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // the subscription was deleted with its deliveries
	}
	if err != nil {
		return dbError(err, fmt.Sprintf("webhook delivery %d", deliveryID))
	}
	d, h := &row.BatonWebhookDelivery, &row.BatonWebhook
	if !h.Enabled {
		if err := s.queries.WebhookDeliveryFinish(ctx, s.pool, &dbsqlc.WebhookDeliveryFinishParams{ID: d.ID, Status: "failed"}); err != nil {
			return dbError(err, "webhook delivery")
		}
		return fmt.Errorf("%w: webhook %d is disabled", ErrPermanent, h.ID)
	}
	a := s.send(ctx, h, d.MessageID, d.Payload)
	final := a.err == nil || jobAttempt >= maxAttempts || errors.Is(a.err, ErrPermanent)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.logAttempt(ctx, tx, d.ID, &a); err != nil {
			return err
		}
		if !final {
			return nil
		}
		status := "succeeded"
		if a.err != nil {
			status = "failed"
		}
		if err := s.queries.WebhookDeliveryFinish(ctx, tx, &dbsqlc.WebhookDeliveryFinishParams{ID: d.ID, Status: status}); err != nil {
			return err
		}
		out, err := s.queries.WebhookRecordOutcome(ctx, tx, &dbsqlc.WebhookRecordOutcomeParams{ID: h.ID, Succeeded: a.err == nil})
		if err != nil {
			return err
		}
		if a.err != nil && out.Enabled && int(out.ConsecutiveFailures) >= s.opts.DisableAfter {
			s.logger.WarnContext(ctx, "webhook disabled after failed deliveries", "webhook_id", h.ID,
				"failures", out.ConsecutiveFailures)
			return s.queries.WebhookDisable(ctx, tx, &dbsqlc.WebhookDisableParams{WebhookID: h.ID,
				Reason: fmt.Sprintf("%d deliveries in a row failed; last: %s", out.ConsecutiveFailures, truncate(a.err.Error(), 300))})
		}
		return nil
	})
	if err != nil {
		return dbError(err, "webhook delivery log")
	}
	if a.err != nil {
		s.logger.WarnContext(ctx, "webhook delivery failed", "webhook_id", h.ID, "delivery_id", d.ID,
			"attempt", jobAttempt, "error", a.err.Error())
		return a.err
	}
	return nil
}

// attemptResult is one attempt's outcome.
type attemptResult struct {
	number int
	status *int
	head   string
	err    error
	took   time.Duration
}

// logAttempt counts an attempt made (setting a.number) and logs it, in tx.
func (s *Service) logAttempt(ctx context.Context, tx dbsqlc.DBTX, deliveryID int64, a *attemptResult) error {
	n, err := s.queries.WebhookDeliveryAttempted(ctx, tx, deliveryID)
	if err != nil {
		return err
	}
	a.number = int(n)
	p := &dbsqlc.WebhookAttemptInsertParams{DeliveryID: deliveryID, Attempt: n,
		Succeeded: a.err == nil, LatencyMs: float64(a.took.Microseconds()) / 1000}
	if a.status != nil {
		p.StatusCode = new(int32(*a.status))
	}
	if a.head != "" {
		p.ResponseHead = &a.head
	}
	if a.err != nil {
		p.Error = new(truncate(a.err.Error(), 1000))
	}
	return s.queries.WebhookAttemptInsert(ctx, tx, p)
}

// signature returns the webhook-signature header: "v1,<base64>" with the
// current secret, followed (space-separated) by one with the previous
// secret while a rotation's overlap lasts.
func (s *Service) signature(h *dbsqlc.BatonWebhook, id string, at time.Time, body []byte) (string, error) {
	sealed := [][]byte{h.SecretSealed}
	if len(h.PreviousSecretSealed) > 0 && h.PreviousSecretUntil != nil && h.PreviousSecretUntil.After(s.now()) {
		sealed = append(sealed, h.PreviousSecretSealed)
	}
	var sigs []string
	for _, sl := range sealed {
		plain, err := s.open(sl)
		if err != nil {
			return "", err
		}
		wh, err := standardwebhooks.NewWebhook(string(plain))
		if err != nil {
			return "", errors.New("signing secret does not decode")
		}
		sig, err := wh.Sign(id, at, body)
		if err != nil {
			return "", fmt.Errorf("sign: %w", err)
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

// send signs and posts one message. 2xx succeeds; any other answer or a
// network error is retried; a refused private address is permanent.
func (s *Service) send(ctx context.Context, h *dbsqlc.BatonWebhook, id string, body []byte) attemptResult {
	start := time.Now()
	at := s.now()
	sig, err := s.signature(h, id, at, body)
	if err != nil {
		return attemptResult{err: fmt.Errorf("%w: %w", ErrPermanent, err)}
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.SendTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.Url, bytes.NewReader(body))
	if err != nil {
		return attemptResult{err: fmt.Errorf("%w: bad URL", ErrPermanent)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Baton-Webhooks/1")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, executor.ErrPrivateAddress) {
			return attemptResult{err: fmt.Errorf("%w: %w", ErrPermanent, err), took: time.Since(start)}
		}
		return attemptResult{err: fmt.Errorf("send: %w", err), took: time.Since(start)}
	}
	defer resp.Body.Close()
	headBytes, _ := io.ReadAll(io.LimitReader(resp.Body, responseHeadBytes))
	took := time.Since(start)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	status := resp.StatusCode
	a := attemptResult{status: &status, head: strings.ToValidUTF8(string(headBytes), "\uFFFD"), took: took}
	if status < 200 || status >= 300 {
		a.err = fmt.Errorf("receiver answered %d", status)
	}
	return a
}

// Deliveries lists a subscription's deliveries, newest first, with their
// attempts; beforeID pages.
func (s *Service) Deliveries(ctx context.Context, webhookID int64, beforeID *int64, limit int) ([]*Delivery, error) {
	if _, err := s.Get(ctx, webhookID); err != nil {
		return nil, err
	}
	rows, err := s.queries.WebhookDeliveryList(ctx, s.pool, &dbsqlc.WebhookDeliveryListParams{
		WebhookID: webhookID, BeforeID: beforeID, MaxRows: int32(limit),
	})
	if err != nil {
		return nil, dbError(err, "webhook deliveries")
	}
	out := make([]*Delivery, len(rows))
	ids := make([]int64, len(rows))
	byID := map[int64]*Delivery{}
	for i, r := range rows {
		out[i] = deliveryFrom(r)
		ids[i] = r.ID
		byID[r.ID] = out[i]
	}
	if len(ids) > 0 {
		attempts, err := s.queries.WebhookAttemptList(ctx, s.pool, ids)
		if err != nil {
			return nil, dbError(err, "webhook attempts")
		}
		for _, a := range attempts {
			d := byID[a.DeliveryID]
			d.Attempts = append(d.Attempts, attemptFrom(a))
		}
	}
	return out, nil
}

func attemptFrom(a *dbsqlc.BatonWebhookAttempt) Attempt {
	out := Attempt{Attempt: int(a.Attempt), Succeeded: a.Succeeded, LatencyMs: a.LatencyMs, At: a.CreatedAt}
	if a.StatusCode != nil {
		out.StatusCode = new(int(*a.StatusCode))
	}
	if a.ResponseHead != nil {
		out.ResponseHead = *a.ResponseHead
	}
	if a.Error != nil {
		out.Error = *a.Error
	}
	return out
}

// Redeliver sends a past delivery again (same webhook-id and body) as a new
// job with its own attempts.
func (s *Service) Redeliver(ctx context.Context, ins JobInserter, webhookID, deliveryID int64) (*Delivery, error) {
	var out *Delivery
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		d, err := s.queries.WebhookDeliveryReopen(ctx, tx, &dbsqlc.WebhookDeliveryReopenParams{ID: deliveryID, WebhookID: webhookID})
		if err != nil {
			return err
		}
		if _, err := ins.InsertManyTx(ctx, tx, []river.InsertManyParams{s.deliveryJob(d.ID)}); err != nil {
			return fmt.Errorf("insert delivery job: %w", err)
		}
		out = deliveryFrom(d)
		return nil
	})
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("delivery %d of webhook %d", deliveryID, webhookID))
	}
	return out, nil
}

// Test sends a sample webhook.test event to a subscription now (enabled or
// not), logs it as a delivery and returns it with the receiver's answer.
func (s *Service) Test(ctx context.Context, webhookID int64) (*Delivery, error) {
	h, err := s.queries.WebhookGet(ctx, s.pool, webhookID)
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("webhook %d", webhookID))
	}
	now := s.now()
	body, err := json.Marshal(Event{Type: TestEventType, Timestamp: now, Data: EventData{
		Kind: "webhook_test", Details: json.RawMessage(`{"message":"Test event from Baton: this subscription works."}`),
	}})
	if err != nil {
		return nil, fmt.Errorf("encode test event: %w", err)
	}
	d, err := s.queries.WebhookDeliveryInsert(ctx, s.pool, &dbsqlc.WebhookDeliveryInsertParams{
		WebhookID: h.ID, MessageID: fmt.Sprintf("msg_test_%d_%d", h.ID, now.UnixNano()), EventType: TestEventType,
		Payload: body,
	})
	if err != nil {
		return nil, dbError(err, "webhook test delivery")
	}
	a := s.send(ctx, h, d.MessageID, d.Payload)
	status := "succeeded"
	if a.err != nil {
		status = "failed"
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.logAttempt(ctx, tx, d.ID, &a); err != nil {
			return err
		}
		return s.queries.WebhookDeliveryFinish(ctx, tx, &dbsqlc.WebhookDeliveryFinishParams{ID: d.ID, Status: status})
	})
	if err != nil {
		return nil, dbError(err, "webhook test delivery")
	}
	out := deliveryFrom(d)
	out.Status = status
	att := Attempt{Attempt: max(a.number, 1), Succeeded: a.err == nil, LatencyMs: float64(a.took.Microseconds()) / 1000,
		ResponseHead: a.head, At: now}
	if a.status != nil {
		att.StatusCode = a.status
	}
	if a.err != nil {
		att.Error = a.err.Error()
	}
	out.Attempts = append(out.Attempts, att)
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
