package tap

import (
	"time"

	"github.com/tapline/tapline/proxy/identity"
)

// Conn is what the tap knows of one TLS connection. It is built once, after
// the handshake, and shared read-only by the records of its requests.
type Conn struct {
	ID            string
	Listener      string
	ClientAddress string
	ClientPort    int
	ServerName    string
	TLSVersion    string // "1.3"
	Cipher        string // IANA name
	ALPN          string
	Resumed       bool
	// MTLSVerified is true when the client presented a certificate that
	// verified; Peer then describes it.
	MTLSVerified bool
	Peer         *identity.Cert

	// wire is the connection's attributes as encoded OTLP log attributes,
	// made by the publishing goroutine (the only one that touches it) for
	// the connection's first record and reused by the others.
	wire []byte
	// chainWire is the tapline.identity.chain attribute of the chain that
	// starts at chainOf (chainLen entries), kept the same way.
	chainWire []byte
	chainOf   *identity.Entry
	chainLen  int
}

// TLSRecord is one TLS connection or failed handshake.
type TLSRecord struct {
	// Time is when the connection was accepted.
	Time              time.Time
	HandshakeDuration time.Duration
	Conn              *Conn
	Established       bool
	// Failure is an event.TLSFailure* reason; FailureDetail the TLS
	// library's words.
	Failure       string
	FailureDetail string
	// Presented is the certificate a client presented in a failed
	// handshake (not verified), if any.
	Presented *identity.Cert
}

// AccessRecord is one request through the tap, and its server span.
type AccessRecord struct {
	Start    time.Time
	Duration time.Duration

	TraceID      [16]byte
	SpanID       [8]byte
	ParentSpanID [8]byte // zero when the tap started the trace
	TraceFlags   byte
	TraceState   string
	RequestID    string

	Method     string
	Scheme     string
	Host       string
	ServerPort int
	Path       string
	Query      string
	Route      string
	Protocol   string // "1.1", "2"
	UserAgent  string
	Status     int

	RequestBytes  int64
	ResponseBytes int64

	UpstreamAddress string
	UpstreamStatus  string
	// Error is a machine-readable failure (upstream-unavailable, ...).
	Error string

	Conn *Conn

	Principal     string
	PrincipalType string
	JWTIssuer     string
	JWTSubject    string
	JWTAudience   []string
	JWTScopes     []string
	// Chain is every identity seen, in precedence order; it is encoded
	// as JSON (tapline.identity.chain) off the request path.
	Chain []identity.Entry
	XFCC  string // as received

	Decision string
	Policy   string
	Reason   string
}
