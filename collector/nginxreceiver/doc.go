// Package nginxreceiver is an OpenTelemetry Collector receiver for Nginx
// access logs. It takes lines over syslog (UDP as Nginx sends them, TCP from
// a relay, RFC 3164 and RFC 5424 framing) and by tailing files (rotation by
// rename or copytruncate; the read position persisted under storage_dir so a
// restart neither skips nor repeats lines), and emits each line as a Tapline
// access event mapped by package accesslog (the same code path as the
// access-log processor).
//
// Lines that are not access-log lines, cut short, over-long or not UTF-8
// are counted by kind in the receiver's metrics and still emitted (the
// unparseable ones as plain log records holding the line), so nothing is
// dropped silently and one bad line never stops the next one.
package nginxreceiver
