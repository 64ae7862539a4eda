package xfcc

import (
	"reflect"
	"testing"
)

// FuzzXFCC checks that Parse never panics and that whatever it accepts
// survives Format and a second Parse unchanged.
func FuzzXFCC(f *testing.F) {
	f.Add(`By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com`)
	f.Add(`Hash=1;DNS=a;DNS=b,By=x;URI=spiffe://td/a`)
	f.Add(`Subject="a\"b,;=";Cert="-----BEGIN%20CERTIFICATE-----%0AMIIB%2B%2F%0A-----END%20CERTIFICATE-----%0A"`)
	f.Fuzz(func(t *testing.T, header string) {
		els, err := Parse(header)
		if err != nil {
			return
		}
		var kept []Element
		for _, el := range els {
			el = normalise(el)
			if el.By != "" || el.Hash != "" || el.Cert != "" || el.Chain != "" || el.Subject != "" || len(el.URIs) > 0 || len(el.DNS) > 0 {
				kept = append(kept, el)
			}
		}
		if len(kept) != len(els) {
			return // an element of empty or unknown keys only has no Format
		}
		again, err := Parse(Format(kept))
		if err != nil {
			t.Fatalf("Parse(Format(%#v)) = %v", kept, err)
		}
		for i := range again {
			again[i] = normalise(again[i])
		}
		if !reflect.DeepEqual(again, kept) {
			t.Fatalf("round trip of %q\n got %#v\nwant %#v", header, again, kept)
		}
	})
}

// normalise drops empty values that Format leaves out.
func normalise(el Element) Element {
	var uris, dns []string
	for _, u := range el.URIs {
		if u != "" {
			uris = append(uris, u)
		}
	}
	for _, d := range el.DNS {
		if d != "" {
			dns = append(dns, d)
		}
	}
	el.URIs, el.DNS, el.URI = uris, dns, ""
	if len(uris) > 0 {
		el.URI = uris[0]
	}
	return el
}
