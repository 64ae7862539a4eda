SELECT TraceId, max(Timestamp) AS MatchedAt
FROM otel_traces
WHERE Timestamp >= {p0:DateTime64(9)} AND Timestamp < {p1:DateTime64(9)}
  AND ServiceName = {p2:String}
  AND SpanName = {p3:String}
  AND ((has(SpanAttributeItems, {p6:String}) AND SpanAttributes[{p4:String}] = {p5:String}) OR (has(ResourceAttributeItems, {p7:String}) AND ResourceAttributes[{p4:String}] = {p5:String}))
  AND (mapContains(SpanAttributes, {p8:String}))
  AND (NOT mapContains(ResourceAttributes, {p9:String}))
  AND (NOT (mapContains(SpanAttributes, {p10:String}) AND SpanAttributes[{p10:String}] = {p11:String}) AND NOT (mapContains(ResourceAttributes, {p10:String}) AND ResourceAttributes[{p10:String}] = {p11:String}))
  AND StatusCode = {p12:String}
  AND Duration >= {p13:UInt64}
  AND Duration <= {p14:UInt64}
  AND (TraceId IN (SELECT TraceId FROM access_events WHERE toStartOfFiveMinutes(Timestamp) >= toStartOfFiveMinutes({p16:DateTime64(9)}) AND toStartOfFiveMinutes(Timestamp) <= toStartOfFiveMinutes({p17:DateTime64(9)}) AND Timestamp >= {p16:DateTime64(9)} AND Timestamp < {p17:DateTime64(9)} AND Principal = {p15:String} AND TraceId != '') OR SpanAttributes[{p18:String}] = {p15:String})
  AND (TraceId IN (SELECT TraceId FROM access_events WHERE toStartOfFiveMinutes(Timestamp) >= toStartOfFiveMinutes({p20:DateTime64(9)}) AND toStartOfFiveMinutes(Timestamp) <= toStartOfFiveMinutes({p21:DateTime64(9)}) AND Timestamp >= {p20:DateTime64(9)} AND Timestamp < {p21:DateTime64(9)} AND RequestId = {p19:String} AND TraceId != '') OR SpanAttributes[{p22:String}] = {p19:String})
GROUP BY TraceId
ORDER BY MatchedAt DESC, TraceId DESC
LIMIT {p23:UInt32}

-- parameters:
-- p0 = "2025-06-02T10:00:00Z"
-- p1 = "2025-06-02T11:00:00Z"
-- p2 = "ordersx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p3 = "POST /checkoutx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p4 = "http.route"
-- p5 = "/checkoutx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p6 = "http.route=/checkoutx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p7 = "http.route=/checkoutx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p8 = "db.system"
-- p9 = "k' OR 1) --; DROP TABLE otel_traces; {p0:String}"
-- p10 = "k' OR 1) --; DROP TABLE otel_traces; {p0:String}"
-- p11 = "vx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p12 = "Error"
-- p13 = 1000000
-- p14 = 1000000000
-- p15 = "spiffe://xx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p16 = "2025-06-02T09:59:00Z"
-- p17 = "2025-06-02T11:01:00Z"
-- p18 = "enduser.id"
-- p19 = "rx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p20 = "2025-06-02T09:59:00Z"
-- p21 = "2025-06-02T11:01:00Z"
-- p22 = "tapline.request_id"
-- p23 = 21
