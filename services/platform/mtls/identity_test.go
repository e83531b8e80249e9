package mtls_test

import (
	"crypto/x509"
	"errors"
	"net/url"
	"testing"

	"healthexchange/services/platform/mtls"
)

func TestIdentityOf(t *testing.T) {
	uri := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	for _, tc := range []struct {
		name string
		uris []string
		want mtls.Identity
	}{
		{"a service", []string{"spiffe://health-exchange/service/records"}, mtls.Service("records")},
		{"an app", []string{"spiffe://health-exchange/app/patient"}, mtls.Identity{Kind: mtls.KindApp, Name: "patient"}},
		{"a device", []string{"spiffe://health-exchange/device/wearable"}, mtls.Identity{Kind: mtls.KindDevice, Name: "wearable"}},
		{"other domains are ignored", []string{"spiffe://elsewhere/service/consent", "https://health-exchange/x", "spiffe://health-exchange/app/clinician"},
			mtls.Identity{Kind: mtls.KindApp, Name: "clinician"}},
		{"none", nil, mtls.Identity{}},
		{"two", []string{"spiffe://health-exchange/app/patient", "spiffe://health-exchange/service/consent"}, mtls.Identity{}},
		{"unknown kind", []string{"spiffe://health-exchange/admin/root"}, mtls.Identity{}},
		{"a deeper path", []string{"spiffe://health-exchange/service/records/extra"}, mtls.Identity{}},
		{"upper case", []string{"spiffe://health-exchange/service/Records"}, mtls.Identity{}},
		{"a query", []string{"spiffe://health-exchange/service/records?as=consent"}, mtls.Identity{}},
		{"a port", []string{"spiffe://health-exchange:1/service/records"}, mtls.Identity{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert := &x509.Certificate{}
			for _, u := range tc.uris {
				cert.URIs = append(cert.URIs, uri(u))
			}
			got, err := mtls.IdentityOf(cert)
			if tc.want == (mtls.Identity{}) {
				if !errors.Is(err, mtls.ErrNoIdentity) {
					t.Fatalf("IdentityOf = %v, %v; want ErrNoIdentity", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("IdentityOf = %v, %v; want %v", got, err, tc.want)
			}
			if round, err := mtls.IdentityOf(&x509.Certificate{URIs: []*url.URL{uri(got.URI())}}); err != nil || round != got {
				t.Fatalf("URI %s reads back as %v, %v", got.URI(), round, err)
			}
		})
	}
}
