package alert_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5/pgxpool"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baton-run/baton/internal/alert"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/resilience"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/jobs"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// received is one message a test receiver got, and when.
type received struct {
	at      time.Time
	event   string // fired, resolved, test
	rule    string
	group   string
	summary string
}

// inbox collects what a receiver got.
type inbox struct {
	mu   sync.Mutex
	msgs []received
	errs []error
}

func (b *inbox) add(r received) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.msgs = append(b.msgs, r)
}

func (b *inbox) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs = append(b.errs, err)
}

func (b *inbox) snapshot() ([]received, []error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.msgs...), append([]error(nil), b.errs...)
}

// waitFor polls the inbox until a message matches or the deadline passes.
func (b *inbox) waitFor(t *testing.T, name string, within time.Duration, match func(received) bool) received {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msgs, errs := b.snapshot()
		require.Empty(t, errs, "%s receiver errors", name)
		for _, m := range msgs {
			if match(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no matching message within %s; got %+v", name, within, msgs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *inbox) count(match func(received) bool) int {
	msgs, _ := b.snapshot()
	n := 0
	for _, m := range msgs {
		if match(m) {
			n++
		}
	}
	return n
}

// webhookReceiver verifies each delivery's Standard Webhooks signature with
// secret (set once the channel exists) and records it.
func webhookReceiver(t *testing.T, secret *string, mu *sync.Mutex) (*httptest.Server, *inbox) {
	box := &inbox{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		key := *secret
		mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(key)
		if err == nil {
			err = wh.Verify(body, r.Header)
		}
		if err != nil {
			box.fail(err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var p alert.WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			box.fail(err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		box.add(received{at: time.Now(), event: strings.TrimPrefix(p.Type, "alert."), rule: p.Data.Rule,
			group: p.Data.GroupKey, summary: p.Data.Summary})
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, box
}

// slackReceiver checks the incoming-webhook format (text and blocks: a
// header, a section with fields, a context) and records it.
func slackReceiver(t *testing.T) (*httptest.Server, *inbox) {
	box := &inbox{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m alert.SlackMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			box.fail(err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if r.URL.Path != "/services/T000/B000/XXXX" || len(m.Blocks) != 3 || m.Blocks[0].Type != "header" ||
			m.Blocks[1].Type != "section" || len(m.Blocks[1].Fields) < 4 || m.Text == "" {
			box.fail(errors.New("not a Slack message with blocks: " + m.Text))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		event := "fired"
		switch {
		case strings.HasPrefix(m.Text, "RESOLVED"):
			event = "resolved"
		case strings.HasPrefix(m.Text, "TEST"):
			event = "test"
		}
		box.add(received{at: time.Now(), event: event, rule: m.Blocks[0].Text.Text, summary: m.Text})
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv, box
}

// smtpBackend is a go-smtp test server requiring STARTTLS and AUTH PLAIN.
type smtpBackend struct{ box *inbox }

func (b *smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &smtpSession{b: b, conn: c}, nil
}

type smtpSession struct {
	b      *smtpBackend
	conn   *smtp.Conn
	authed bool
	rcpts  []string
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != "alerts" || password != "s3cret-pass" {
			return errors.New("bad credentials")
		}
		s.authed = true
		return nil
	}), nil
}

func (s *smtpSession) Mail(string, *smtp.MailOptions) error {
	if _, ok := s.conn.TLSConnectionState(); !ok {
		s.b.box.fail(errors.New("MAIL before STARTTLS"))
		return errors.New("tls required")
	}
	if !s.authed {
		s.b.box.fail(errors.New("MAIL before AUTH"))
		return smtp.ErrAuthRequired
	}
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	text := string(b)
	var subject string
	for _, line := range strings.Split(text, "\r\n") {
		if strings.HasPrefix(line, "Subject: ") {
			subject = strings.TrimPrefix(line, "Subject: ")
		}
	}
	event := "fired"
	switch {
	case strings.Contains(subject, "RESOLVED"):
		event = "resolved"
	case strings.Contains(subject, "TEST"):
		event = "test"
	}
	if len(s.rcpts) != 2 {
		s.b.box.fail(errors.New("want 2 recipients"))
	}
	s.b.box.add(received{at: time.Now(), event: event, summary: subject})
	return nil
}

func (s *smtpSession) Reset()        { s.rcpts = nil }
func (s *smtpSession) Logout() error { return nil }

// smtpServer starts a local SMTP server with a self-signed certificate for
// 127.0.0.1 and returns its port and a TLS config trusting it.
func smtpServer(t *testing.T) (int, *tls.Config, *inbox) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)

	box := &inbox{}
	srv := smtp.NewServer(&smtpBackend{box: box})
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return ln.Addr().(*net.TCPAddr).Port, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, box
}

type harness struct {
	pool   *pgxpool.Pool
	eng    *engine.Engine
	alerts *alert.Service
}

// setup starts Baton's River client with alerting on a fresh database.
func setup(t *testing.T, smtpTLS *tls.Config) *harness {
	t.Helper()
	pool := testdb.NewPool(t)
	eng := engine.New(pool, engine.Options{})
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	svc, err := alert.New(pool, alert.Options{SecretKey: key, AllowPrivate: true, SMTPTLSConfig: smtpTLS, SendTimeout: 5 * time.Second})
	require.NoError(t, err)
	executors := executor.NewRegistry(executor.Options{AllowPrivateHTTP: true})
	t.Cleanup(executors.Close)
	client, err := jobs.NewClient(pool, jobs.ClientOptions{Engine: eng, Executors: executors, Workers: 10, Alerts: svc})
	require.NoError(t, err)
	require.NoError(t, client.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, client.Stop(ctx))
	})
	return &harness{pool: pool, eng: eng, alerts: svc}
}

func (h *harness) rule(t *testing.T, name string) *alert.Rule {
	t.Helper()
	rules, err := h.alerts.ListRules(context.Background())
	require.NoError(t, err)
	for _, r := range rules {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no rule %q", name)
	return nil
}

// specOf returns the spec that reproduces r (for an update).
func specOf(r *alert.Rule) alert.RuleSpec {
	return alert.RuleSpec{
		Name: r.Name, Kind: r.Kind, Description: r.Description, Enabled: &r.Enabled, Severity: r.Severity,
		Metric: r.Metric, Aggregation: r.Aggregation, Comparison: r.Comparison, Threshold: r.Threshold,
		WindowSeconds: r.WindowSeconds, EventKind: r.EventKind, Workflow: r.Workflow, TaskType: r.TaskType,
		GroupBy: r.GroupBy, ResolveAfterSeconds: r.ResolveAfterSeconds, ChannelIDs: r.ChannelIDs, SilencedUntil: r.SilencedUntil,
	}
}

// TestBreakerAlertReachesEveryChannel opens a real circuit breaker: the
// built-in circuit-open rule fires one alert to a webhook (signature
// verified), a Slack-format receiver and an SMTP server (STARTTLS + AUTH),
// each within 5 s; the breaker forced open again while open adds an
// occurrence, not a second alert; closing it resolves the alert on every
// channel within 5 s. A channel's test endpoint sends a sample.
func TestBreakerAlertReachesEveryChannel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	smtpPort, smtpTLS, mailbox := smtpServer(t)
	h := setup(t, smtpTLS)

	var secretMu sync.Mutex
	var secret string
	hook, hookBox := webhookReceiver(t, &secret, &secretMu)
	slackSrv, slackBox := slackReceiver(t)

	hookCh, gotSecret, err := h.alerts.CreateChannel(ctx, alert.ChannelSpec{Name: "ops-hook", Kind: "webhook", URL: hook.URL + "/hook"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(gotSecret, "whsec_"))
	secretMu.Lock()
	secret = gotSecret
	secretMu.Unlock()
	slackCh, _, err := h.alerts.CreateChannel(ctx, alert.ChannelSpec{Name: "ops-slack", Kind: "slack", URL: slackSrv.URL + "/services/T000/B000/XXXX"})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"url_host": strings.TrimPrefix(slackSrv.URL, "http://")}, slackCh.Config, "the Slack URL is sealed, not shown")
	mailCh, _, err := h.alerts.CreateChannel(ctx, alert.ChannelSpec{
		Name: "ops-mail", Kind: "email", Host: "127.0.0.1", Port: smtpPort, Username: "alerts", Password: "s3cret-pass",
		From: "baton@example.com", To: []string{"ops@example.com", "oncall@example.com"},
	})
	require.NoError(t, err)
	require.NotContains(t, mailCh.Config, "password")

	// The test endpoint sends a sample to each.
	for _, ch := range []*alert.Channel{hookCh, slackCh, mailCh} {
		d, err := h.alerts.SendTest(ctx, ch.ID)
		require.NoError(t, err)
		require.True(t, d.Succeeded, "test of %s: %s", ch.Name, d.Error)
	}
	isTest := func(r received) bool { return r.event == "test" }
	require.Equal(t, 1, hookBox.count(isTest))
	require.Equal(t, 1, slackBox.count(isTest))
	require.Equal(t, 1, mailbox.count(isTest))

	rule := h.rule(t, "circuit-open")
	spec := specOf(rule)
	spec.ChannelIDs = []int64{hookCh.ID, slackCh.ID, mailCh.ID}
	_, err = h.alerts.UpdateRule(ctx, rule.ID, spec)
	require.NoError(t, err)

	// Open the breaker the way the task worker does: failures fill its window.
	breakers := resilience.NewBreakers(h.pool, resilience.Options{})
	settings := resilience.Settings{Window: 2, FailureRate: 0.5, Cooldown: 200 * time.Millisecond}
	const key = "http:api.example.com"
	for range 2 {
		d, err := breakers.Acquire(ctx, key, settings)
		require.NoError(t, err)
		require.NoError(t, breakers.Record(ctx, key, settings, d, false))
	}
	opened := time.Now()
	b, err := breakers.Get(ctx, key)
	require.NoError(t, err)
	require.Equal(t, "open", b.State)
	// The same condition again (an operator forces it open): deduplicated.
	_, err = breakers.ForceOpen(ctx, key, "tester")
	require.NoError(t, err)

	isFired := func(r received) bool { return r.event == "fired" }
	for name, box := range map[string]*inbox{"webhook": hookBox, "slack": slackBox, "email": mailbox} {
		got := box.waitFor(t, name, 5*time.Second, isFired)
		t.Logf("%s: alert fired %s after the breaker opened", name, got.at.Sub(opened).Round(time.Millisecond))
		require.Less(t, got.at.Sub(opened), 5*time.Second)
	}
	got := hookBox.waitFor(t, "webhook", time.Second, isFired)
	require.Equal(t, "circuit-open", got.rule)
	require.Equal(t, key, got.group)

	// Wait until the forced-open event was evaluated: the alert counts it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		alerts, err := h.alerts.ListAlerts(ctx, alert.AlertFilter{RuleID: rule.ID, Limit: 10})
		require.NoError(t, err)
		require.Len(t, alerts, 1, "one alert for one breaker")
		if alerts[0].Occurrences >= 2 {
			break
		}
		require.True(t, time.Now().Before(deadline), "forced-open event not counted")
		time.Sleep(50 * time.Millisecond)
	}

	closed := time.Now()
	_, err = breakers.ForceClose(ctx, key, "tester")
	require.NoError(t, err)
	isResolved := func(r received) bool { return r.event == "resolved" }
	for name, box := range map[string]*inbox{"webhook": hookBox, "slack": slackBox, "email": mailbox} {
		got := box.waitFor(t, name, 5*time.Second, isResolved)
		t.Logf("%s: alert resolved %s after the breaker closed", name, got.at.Sub(closed).Round(time.Millisecond))
		require.Less(t, got.at.Sub(closed), 5*time.Second)
	}

	// Two more evaluations: still exactly one fired and one resolved each.
	h.waitEvaluations(t, 2)
	for name, box := range map[string]*inbox{"webhook": hookBox, "slack": slackBox, "email": mailbox} {
		require.Equal(t, 1, box.count(isFired), "%s fired", name)
		require.Equal(t, 1, box.count(isResolved), "%s resolved", name)
	}

	alerts, err := h.alerts.ListAlerts(ctx, alert.AlertFilter{RuleID: rule.ID, Limit: 10})
	require.NoError(t, err)
	require.Len(t, alerts, 1)
	require.Equal(t, "resolved", alerts[0].State())
	deliveries, err := h.alerts.ListDeliveries(ctx, alerts[0].ID)
	require.NoError(t, err)
	require.Len(t, deliveries, 6, "3 channels x fired and resolved, each on its first attempt")
	for _, d := range deliveries {
		require.True(t, d.Succeeded, d.Error)
	}
	var kinds []string
	rows, err := h.pool.Query(ctx, "SELECT kind FROM baton.task_events WHERE kind LIKE 'alert_%' AND run_id IS NULL ORDER BY id")
	require.NoError(t, err)
	for rows.Next() {
		var k string
		require.NoError(t, rows.Scan(&k))
		kinds = append(kinds, k)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"alert_fired", "alert_resolved"}, kinds)
}

// waitEvaluations waits until the evaluator has run n more times.
func (h *harness) waitEvaluations(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	var last time.Time
	deadline := time.Now().Add(time.Duration(n+2) * 3 * time.Second)
	for seen := -1; seen < n; {
		var at *time.Time
		require.NoError(t, h.pool.QueryRow(ctx, "SELECT evaluated_at FROM baton.alert_evaluator").Scan(&at))
		if at != nil && !at.Equal(last) {
			last = *at
			seen++
		}
		require.True(t, time.Now().Before(deadline), "evaluator did not run %d times", n)
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDeadLetterThresholdFiresResolvesAndSilences fails two runs for good:
// a custom dead-letter rule (count > 1) fires to a webhook within 5 s and
// resolves within 5 s once a dead letter is discarded; a silenced task_dead
// rule records one alert for both dead tasks of the workflow (deduplicated)
// and sends nothing.
func TestDeadLetterThresholdFiresResolvesAndSilences(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := setup(t, nil)
	var secretMu sync.Mutex
	var secret string
	hook, box := webhookReceiver(t, &secret, &secretMu)
	ch, s, err := h.alerts.CreateChannel(ctx, alert.ChannelSpec{Name: "hook", Kind: "webhook", URL: hook.URL})
	require.NoError(t, err)
	secretMu.Lock()
	secret = s
	secretMu.Unlock()

	threshold := 1.0
	dlq, err := h.alerts.CreateRule(ctx, alert.RuleSpec{Name: "dlq", Kind: alert.KindCustom, Metric: "dead_letter_count",
		Comparison: "gt", Threshold: &threshold, WindowSeconds: 60, ChannelIDs: []int64{ch.ID}})
	require.NoError(t, err)
	until := time.Now().Add(time.Hour)
	quiet, err := h.alerts.CreateRule(ctx, alert.RuleSpec{Name: "dead-silenced", Kind: alert.KindTaskDead,
		Workflow: "doomed", ChannelIDs: []int64{ch.ID}, SilencedUntil: &until})
	require.NoError(t, err)

	maxRetries := 0
	_, err = h.eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "fragile", Executor: "sim", MaxRetries: &maxRetries})
	require.NoError(t, err)
	spec, err := engine.ParseSpec([]byte("name: doomed\nsteps: [{name: roll, type: fragile, params: {fail_rate: 1}}]\n"))
	require.NoError(t, err)
	_, _, err = h.eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
	require.NoError(t, err)
	for range 2 {
		_, _, err := h.eng.StartRun(ctx, engine.StartParams{Workflow: "doomed"})
		require.NoError(t, err)
	}
	deadLetters := func() []*engine.DeadLetter {
		page, err := h.eng.ListDeadLetters(ctx, engine.DeadLetterFilter{Limit: 10})
		require.NoError(t, err)
		return page.DeadLetters
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(deadLetters()) < 2 {
		require.True(t, time.Now().Before(deadline), "runs did not fail")
		time.Sleep(20 * time.Millisecond)
	}
	over := time.Now()
	got := box.waitFor(t, "webhook", 5*time.Second, func(r received) bool { return r.rule == "dlq" && r.event == "fired" })
	t.Logf("dead-letter alert fired %s after the queue went over the threshold", got.at.Sub(over).Round(time.Millisecond))
	require.Contains(t, got.summary, "dead letters is 2")

	require.NoError(t, h.eng.DiscardDeadLetter(ctx, deadLetters()[0].ID, "tester"))
	under := time.Now()
	got = box.waitFor(t, "webhook", 5*time.Second, func(r received) bool { return r.rule == "dlq" && r.event == "resolved" })
	t.Logf("dead-letter alert resolved %s after the queue went under the threshold", got.at.Sub(under).Round(time.Millisecond))

	h.waitEvaluations(t, 1)
	require.Zero(t, box.count(func(r received) bool { return r.rule == "dead-silenced" }), "a silenced rule sends nothing")
	quietAlerts, err := h.alerts.ListAlerts(ctx, alert.AlertFilter{RuleID: quiet.ID, Limit: 10})
	require.NoError(t, err)
	require.Len(t, quietAlerts, 1, "two dead tasks of one workflow: one alert")
	require.Equal(t, int64(2), quietAlerts[0].Occurrences)
	require.Equal(t, "doomed", quietAlerts[0].GroupKey)
	require.Equal(t, "firing", quietAlerts[0].State())
	require.Equal(t, 1, box.count(func(r received) bool { return r.rule == "dlq" && r.event == "fired" }))

	// Acknowledge and silence are logged.
	a, err := h.alerts.Acknowledge(ctx, quietAlerts[0].ID, "alice")
	require.NoError(t, err)
	require.Equal(t, "alice", a.AcknowledgedBy)
	a, err = h.alerts.Silence(ctx, quietAlerts[0].ID, time.Hour, "alice")
	require.NoError(t, err)
	require.NotNil(t, a.SilencedUntil)
	var n int
	require.NoError(t, h.pool.QueryRow(ctx, "SELECT count(*) FROM baton.task_events WHERE kind IN ('alert_acknowledged', 'alert_silenced') AND actor = 'alice'").Scan(&n))
	require.Equal(t, 2, n)
	dlqAlerts, err := h.alerts.ListAlerts(ctx, alert.AlertFilter{RuleID: dlq.ID, Limit: 10})
	require.NoError(t, err)
	require.Len(t, dlqAlerts, 1)
	require.Equal(t, "resolved", dlqAlerts[0].State())
	require.Equal(t, 2.0, *dlqAlerts[0].LastValue)
}

// openBreaker opens breaker key the way the task worker does: failures
// fill its window.
func openBreaker(t *testing.T, h *harness, key string) {
	t.Helper()
	ctx := context.Background()
	breakers := resilience.NewBreakers(h.pool, resilience.Options{})
	settings := resilience.Settings{Window: 2, FailureRate: 0.5, Cooldown: time.Minute}
	for range 2 {
		d, err := breakers.Acquire(ctx, key, settings)
		require.NoError(t, err)
		require.NoError(t, breakers.Record(ctx, key, settings, d, false))
	}
}

// TestDeliveryRetriesAndLogsEachAttempt: a receiver that answers 503 once
// gets the alert on the second attempt, about 1 s later, and both attempts
// are in the delivery log; a receiver answering 400 is tried once (a
// permanent failure).
func TestDeliveryRetriesAndLogsEachAttempt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := setup(t, nil)
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.URL.Path]++
		n := calls[r.URL.Path]
		mu.Unlock()
		switch {
		case r.URL.Path == "/bad":
			w.WriteHeader(http.StatusBadRequest)
		case n == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(srv.Close)
	flaky, _, err := h.alerts.CreateChannel(ctx, alert.ChannelSpec{Name: "flaky", Kind: "webhook", URL: srv.URL + "/flaky"})
	require.NoError(t, err)
	bad, _, err := h.alerts.CreateChannel(ctx, alert.ChannelSpec{Name: "bad", Kind: "webhook", URL: srv.URL + "/bad"})
	require.NoError(t, err)
	rule := h.rule(t, "circuit-open")
	spec := specOf(rule)
	spec.ChannelIDs = []int64{flaky.ID, bad.ID}
	_, err = h.alerts.UpdateRule(ctx, rule.ID, spec)
	require.NoError(t, err)

	openBreaker(t, h, "retry-me")
	deadline := time.Now().Add(15 * time.Second)
	for {
		alerts, err := h.alerts.ListAlerts(ctx, alert.AlertFilter{RuleID: rule.ID, Limit: 1})
		require.NoError(t, err)
		if len(alerts) == 1 {
			ds, err := h.alerts.ListDeliveries(ctx, alerts[0].ID)
			require.NoError(t, err)
			var flakyAttempts, badAttempts []*alert.Delivery
			for _, d := range ds {
				if *d.ChannelID == flaky.ID {
					flakyAttempts = append(flakyAttempts, d)
				} else {
					badAttempts = append(badAttempts, d)
				}
			}
			if len(flakyAttempts) == 2 {
				require.False(t, flakyAttempts[0].Succeeded)
				require.Equal(t, 503, *flakyAttempts[0].StatusCode)
				require.True(t, flakyAttempts[1].Succeeded)
				require.Equal(t, 2, flakyAttempts[1].Attempt)
				t.Logf("retried after %s", flakyAttempts[1].CreatedAt.Sub(flakyAttempts[0].CreatedAt).Round(time.Millisecond))
				require.Len(t, badAttempts, 1)
				require.Equal(t, 400, *badAttempts[0].StatusCode)
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "no retry seen")
		time.Sleep(50 * time.Millisecond)
	}
	var state string
	require.NoError(t, h.pool.QueryRow(ctx, "SELECT state FROM river_job WHERE kind = 'alert_delivery' AND (args->>'channel_id')::bigint = $1", bad.ID).Scan(&state))
	require.Equal(t, "cancelled", state)
}
