SELECT TraceId, max(Timestamp) AS MatchedAt
FROM otel_traces
WHERE Timestamp >= {p0:DateTime64(9)} AND Timestamp < {p1:DateTime64(9)}
  AND ServiceName = {p2:String}
  AND SpanName = {p3:String}
  AND (SpanAttributes[{p4:String}] = {p5:String} OR ResourceAttributes[{p4:String}] = {p5:String})
  AND (mapContains(SpanAttributes, {p6:String}))
  AND (NOT mapContains(ResourceAttributes, {p7:String}))
  AND (NOT (mapContains(SpanAttributes, {p8:String}) AND SpanAttributes[{p8:String}] = {p9:String}) AND NOT (mapContains(ResourceAttributes, {p8:String}) AND ResourceAttributes[{p8:String}] = {p9:String}))
  AND StatusCode = {p10:String}
  AND Duration >= {p11:UInt64}
  AND Duration <= {p12:UInt64}
  AND (TraceId IN (SELECT TraceId FROM access_events WHERE toStartOfFiveMinutes(Timestamp) >= toStartOfFiveMinutes({p14:DateTime64(9)}) AND toStartOfFiveMinutes(Timestamp) <= toStartOfFiveMinutes({p15:DateTime64(9)}) AND Timestamp >= {p14:DateTime64(9)} AND Timestamp < {p15:DateTime64(9)} AND Principal = {p13:String} AND TraceId != '') OR SpanAttributes[{p16:String}] = {p13:String})
  AND (TraceId IN (SELECT TraceId FROM access_events WHERE toStartOfFiveMinutes(Timestamp) >= toStartOfFiveMinutes({p18:DateTime64(9)}) AND toStartOfFiveMinutes(Timestamp) <= toStartOfFiveMinutes({p19:DateTime64(9)}) AND Timestamp >= {p18:DateTime64(9)} AND Timestamp < {p19:DateTime64(9)} AND RequestId = {p17:String} AND TraceId != '') OR SpanAttributes[{p20:String}] = {p17:String})
GROUP BY TraceId
ORDER BY MatchedAt DESC, TraceId DESC
LIMIT {p21:UInt32}

-- parameters:
-- p0 = "2025-06-02T10:00:00Z"
-- p1 = "2025-06-02T11:00:00Z"
-- p2 = "ordersx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p3 = "POST /checkoutx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p4 = "http.route"
-- p5 = "/checkoutx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p6 = "db.system"
-- p7 = "k' OR 1) --; DROP TABLE otel_traces; {p0:String}"
-- p8 = "k' OR 1) --; DROP TABLE otel_traces; {p0:String}"
-- p9 = "vx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p10 = "Error"
-- p11 = 1000000
-- p12 = 1000000000
-- p13 = "spiffe://xx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p14 = "2025-06-02T09:59:00Z"
-- p15 = "2025-06-02T11:01:00Z"
-- p16 = "enduser.id"
-- p17 = "rx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p18 = "2025-06-02T09:59:00Z"
-- p19 = "2025-06-02T11:01:00Z"
-- p20 = "tapline.request_id"
-- p21 = 21
