-- Traces whose spans start before their root span, up to {samples} per
-- day and subject (event-time skew has no trace to show).
SELECT toDate(root_ts, 'UTC') AS day, concat('span before root: ', child_service, ' under ', root_service) AS subject,
       root_ts AS ts, TraceId, '' AS RequestId,
       concat('span ', child_span, ' of ', child_service, ' starts ', toString(dateDiff('millisecond', child_ts, root_ts)),
              ' ms before root span of ', root_service) AS detail
FROM
(
    SELECT TraceId, anyIf(Timestamp, ParentSpanId = '') AS root_ts, anyIf(ServiceName, ParentSpanId = '') AS root_service,
           minIf((Timestamp, ServiceName), ParentSpanId != '') AS child, child.1 AS child_ts, child.2 AS child_service,
           argMinIf(SpanId, Timestamp, ParentSpanId != '') AS child_span,
           countIf(ParentSpanId = '') AS roots, countIf(ParentSpanId != '') AS children
    FROM otel_traces
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
    GROUP BY TraceId
)
WHERE roots = 1 AND children > 0 AND dateDiff('millisecond', child_ts, root_ts) > {max_span_skew_ms:Int64}
  AND has({subjects:Array(String)}, subject)
ORDER BY day, subject, cityHash64(TraceId, {seed:UInt64})
LIMIT {samples:UInt32} BY day, subject
