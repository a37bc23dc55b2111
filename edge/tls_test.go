package edge

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/openpdm/pdm/ingest"
	"github.com/stretchr/testify/require"
)

// writeCert writes a certificate signed by parent and its key as PEM files.
func writeCert(t *testing.T, dir, name string, tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) (certFile, keyFile string) {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	require.NoError(t, err)
	certFile = filepath.Join(dir, name+".crt")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	keyFile = filepath.Join(dir, name+".key")
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return certFile, keyFile
}

type testPKI struct {
	caFile, serverCert, serverKey, clientCert, clientKey string
}

func newPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		return k
	}
	now := time.Now()
	caKey := key()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pdm test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	var p testPKI
	p.caFile, _ = writeCert(t, dir, "ca", ca, ca, caKey, caKey)
	srv := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	p.serverCert, p.serverKey = writeCert(t, dir, "server", srv, ca, key(), caKey)
	cl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "gw-t"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	p.clientCert, p.clientKey = writeCert(t, dir, "client", cl, ca, key(), caKey)
	return p
}

// TestUplinkTLS forwards over TLS with a client certificate to a private
// Mosquitto that requires one, and checks that an agent trusting another CA
// does not connect (its readings stay queued).
func TestUplinkTLS(t *testing.T) {
	p := newPKI(t)
	url := startPrivateBroker(t, "cafile "+p.caFile+"\ncertfile "+p.serverCert+"\nkeyfile "+p.serverKey+
		"\nrequire_certificate true\n")
	tlsURL := strings.Replace(url, "tcp://", "ssl://", 1)

	// A subscriber over TLS with the same client certificate.
	cert, err := tls.LoadX509KeyPair(p.clientCert, p.clientKey)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(p.caFile)
	require.NoError(t, err)
	pool.AppendCertsFromPEM(caPEM)
	ch := make(chan received, 100)
	sub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(tlsURL).SetClientID("tls-sub").
		SetTLSConfig(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	tok := sub.Connect()
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	defer sub.Disconnect(100)
	root := testRoot()
	tok = sub.Subscribe(root+"/+/+/telemetry", 1, func(_ mqtt.Client, m mqtt.Message) { ch <- received{m.Topic(), m.Payload()} })
	require.True(t, tok.WaitTimeout(5*time.Second))

	cfg := testConfig(t, tlsURL, root)
	cfg.Uplink.TLS = TLSConfig{CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey}
	a, _, stop := startAgent(t, cfg)
	r := ingest.Reading{Asset: "a1", TS: time.Now().Add(-time.Minute), Metrics: []ingest.Metric{{Name: "v", Value: 1}}}
	require.NoError(t, a.Submit(context.Background(), "test", []ingest.Reading{r}))
	select {
	case m := <-ch:
		require.Contains(t, m.topic, "/a1/telemetry")
	case <-time.After(10 * time.Second):
		t.Fatal("nothing arrived over TLS")
	}
	stop()

	// Trusting another CA: no connection, the reading stays in the queue.
	other := newPKI(t)
	cfg2 := testConfig(t, tlsURL, root)
	cfg2.Uplink.TLS = TLSConfig{CAFile: other.caFile, CertFile: p.clientCert, KeyFile: p.clientKey}
	a2, q2, stop2 := startAgent(t, cfg2)
	defer stop2()
	require.NoError(t, a2.Submit(context.Background(), "test", []ingest.Reading{r}))
	require.Eventually(t, func() bool { return testutilCounter(t, a2, "pdm_edge_publish_errors_total") >= 2 },
		10*time.Second, 10*time.Millisecond, "connection attempts fail")
	select {
	case m := <-ch:
		t.Fatalf("delivered despite an untrusted server certificate: %s", m.topic)
	default:
	}
	require.Equal(t, int64(1), q2.Stats().Items)
}
