// Package accesslogprocessor is an OpenTelemetry Collector processor that
// turns access logs into Tapline access events (event name tapline.access):
// raw Nginx lines, Envoy OpenTelemetry access-logger records and Istio JSON
// access-log lines carried by any log agent. Records it does not recognise
// pass through unchanged: they are application logs.
//
// How a record is recognised, first match wins:
//  1. it already has an event name: passed through;
//  2. a tapline.source attribute on the record or its resource says "nginx"
//     or "mesh": mapped as that source;
//  3. its resource has Envoy's built-in log_name attribute (any value, or
//     one of envoy_log_names): mapped as an Envoy record;
//  4. detect_json_bodies is on and the body is a JSON object (a string or a
//     parsed map) with the keys only Nginx's documented format, or only an
//     Envoy/Istio JSON access log, has together (see accesslog.SniffSource).
//
// The mapping itself lives in package accesslog, shared with the nginx
// receiver. The processor does not batch, drop or reorder records.
package accesslogprocessor
