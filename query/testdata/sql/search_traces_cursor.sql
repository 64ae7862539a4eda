SELECT TraceId, max(Timestamp) AS MatchedAt
FROM otel_traces
WHERE Timestamp >= {p0:DateTime64(9)} AND Timestamp < {p1:DateTime64(9)}
  AND ServiceName = {p2:String}
  AND SpanName = {p3:String}
  AND ((has(SpanAttributeItems, {p5:String}) AND SpanAttributes[{p4:String}] = {p6:String}) OR (has(ResourceAttributeItems, {p5:String}) AND ResourceAttributes[{p4:String}] = {p6:String}))
  AND (mapContains(SpanAttributes, {p7:String}))
  AND (NOT mapContains(ResourceAttributes, {p8:String}))
  AND (NOT (mapContains(SpanAttributes, {p9:String}) AND SpanAttributes[{p9:String}] = {p10:String}) AND NOT (mapContains(ResourceAttributes, {p9:String}) AND ResourceAttributes[{p9:String}] = {p10:String}))
  AND StatusCode = {p11:String}
  AND Duration >= {p12:UInt64}
  AND Duration <= {p13:UInt64}
  AND (TraceId IN (SELECT TraceId FROM access_events WHERE toStartOfFiveMinutes(Timestamp) >= toStartOfFiveMinutes({p15:DateTime64(9)}) AND toStartOfFiveMinutes(Timestamp) <= toStartOfFiveMinutes({p16:DateTime64(9)}) AND Timestamp >= {p15:DateTime64(9)} AND Timestamp < {p16:DateTime64(9)} AND Principal = {p14:String} AND TraceId != '') OR SpanAttributes[{p17:String}] = {p14:String})
  AND (TraceId IN (SELECT TraceId FROM access_events WHERE toStartOfFiveMinutes(Timestamp) >= toStartOfFiveMinutes({p19:DateTime64(9)}) AND toStartOfFiveMinutes(Timestamp) <= toStartOfFiveMinutes({p20:DateTime64(9)}) AND Timestamp >= {p19:DateTime64(9)} AND Timestamp < {p20:DateTime64(9)} AND RequestId = {p18:String} AND TraceId != '') OR SpanAttributes[{p21:String}] = {p18:String})
GROUP BY TraceId
HAVING (MatchedAt, TraceId) < ({p22:DateTime64(9)}, {p23:String})
ORDER BY MatchedAt DESC, TraceId DESC
LIMIT {p24:UInt32}

-- parameters:
-- p0 = "2025-06-02T10:55:00Z"
-- p1 = "2025-06-02T11:00:00Z"
-- p2 = "ordersx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p3 = "POST /checkoutx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p4 = "http.route"
-- p5 = "http.route=/checkoutx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p6 = "/checkoutx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p7 = "db.system"
-- p8 = "k' OR 1) --; DROP TABLE otel_traces; {p0:String}"
-- p9 = "k' OR 1) --; DROP TABLE otel_traces; {p0:String}"
-- p10 = "vx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p11 = "Error"
-- p12 = 1000000
-- p13 = 1000000000
-- p14 = "spiffe://xx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p15 = "2025-06-02T10:54:00Z"
-- p16 = "2025-06-02T11:01:00Z"
-- p17 = "enduser.id"
-- p18 = "rx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p19 = "2025-06-02T10:54:00Z"
-- p20 = "2025-06-02T11:01:00Z"
-- p21 = "tapline.request_id"
-- p22 = "2025-06-02T10:59:00Z"
-- p23 = "0af7651916cd43dd8448eb211c80319c"
-- p24 = 21
