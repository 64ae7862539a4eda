// Package nginxreceivertest runs Debian's real Nginx for tests: a throwaway
// certificate authority with server and client certificates, and an Nginx
// started as the current user under a temporary prefix with Tapline's
// documented log format, one plain and one TLS server block (client
// certificates optional) proxying to a test upstream.
package nginxreceivertest
