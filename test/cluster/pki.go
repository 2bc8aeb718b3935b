/*
Copyright 2026 The dllm-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// kubeletPKI is the cluster's kubelet CA. It signs the API server's client certificate for
// kubelets and each node's serving certificate, so that on `kubectl logs` the API server and
// the node verify each other, as in a kubeadm cluster. envtest's own CA stays internal to it.
type kubeletPKI struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newKubeletPKI() (*kubeletPKI, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dllm-local-cluster-kubelet-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &kubeletPKI{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// issue signs a leaf certificate for tmpl (its serial number and validity are set here) and
// returns it and its key in PEM.
func (k *kubeletPKI) issue(tmpl *x509.Certificate) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if tmpl.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62)); err != nil {
		return nil, nil, err
	}
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, k.cert, &key.PublicKey, k.key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// apiServerFlags writes the CA and the API server's kubelet client certificate into dir and
// returns the kube-apiserver flags that use them.
func (k *kubeletPKI) apiServerFlags(dir string) (map[string]string, error) {
	certPEM, keyPEM, err := k.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: kubelet client certificate: %w", err)
	}
	files := map[string][]byte{"kubelet-ca.crt": k.pem, "kubelet-client.crt": certPEM, "kubelet-client.key": keyPEM}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	return map[string]string{
		"kubelet-certificate-authority": filepath.Join(dir, "kubelet-ca.crt"),
		"kubelet-client-certificate":    filepath.Join(dir, "kubelet-client.crt"),
		"kubelet-client-key":            filepath.Join(dir, "kubelet-client.key"),
	}, nil
}

// KubeletTLS is the TLS configuration of a node's kubelet API at address ip (a
// processnode.Config's TLS): a serving certificate for ip from the cluster's kubelet CA, and
// client certificates required from the same CA, which only the API server holds.
func (c *Cluster) KubeletTLS(ip string) (*tls.Config, error) {
	addr := net.ParseIP(ip)
	if addr == nil {
		return nil, fmt.Errorf("cluster: kubelet address %q is not an IP address", ip)
	}
	certPEM, keyPEM, err := c.pki.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kubelet-" + ip},
		IPAddresses: []net.IP{addr},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: kubelet serving certificate: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	clients := x509.NewCertPool()
	clients.AddCert(c.pki.cert)
	return &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clients,
		MinVersion:   tls.VersionTLS12,
	}, nil
}
