-- A request's timeline (GetTrace, GetRequest) starts with the id lookup
-- tables: a trace's time range, and the time range of the access events of
-- a trace or request id. It then needed the request ids of a trace (to
-- find its Nginx hop, which has no trace id) from a subquery over
-- access_events, and the events' TLS connections from a second round.
--
-- The id lookup table now also gathers, per id, the other id of its events
-- (the request ids of a trace, the trace ids of a request; '' when an
-- event had none) and their TLS connection ids, so that one lookup names
-- every row of a timeline and the spans, events and TLS connections are
-- read in one round, by id. Its rows for events stored before are added
-- once; repeated rows merge, as the table aggregates. On a cluster, that
-- statement is left out (as in 0012): run it on each node.

-- name: related ids and connections in the id lookup table
ALTER TABLE {{table "access_events_id_ts"}}{{onCluster}}
    ADD COLUMN IF NOT EXISTS Related SimpleAggregateFunction(groupUniqArrayArray, Array(String)) CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS Connections SimpleAggregateFunction(groupUniqArrayArray, Array(String)) CODEC(ZSTD(1))

-- name: the same on the distributed table
{{if .Cluster}}ALTER TABLE {{name "access_events_id_ts"}}{{onCluster}}
    ADD COLUMN IF NOT EXISTS Related SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    ADD COLUMN IF NOT EXISTS Connections SimpleAggregateFunction(groupUniqArrayArray, Array(String)){{end}}

-- name: drop the view that fills only the time range (it is created again below)
DROP VIEW IF EXISTS {{name "access_events_id_ts_mv"}}{{onCluster}}

-- name: the view fills the related ids and connections too
CREATE MATERIALIZED VIEW IF NOT EXISTS {{name "access_events_id_ts_mv"}}{{onCluster}}
TO {{table "access_events_id_ts"}}
AS SELECT
    Id,
    min(Timestamp) AS Start,
    max(Timestamp) AS End,
    groupUniqArray(Other) AS Related,
    groupUniqArrayIf(ConnectionId, ConnectionId != '') AS Connections
FROM
(
    SELECT arrayJoin(arrayFilter(p -> p.1 != '', [(RequestId, TraceId), (TraceId, RequestId)])) AS Pair,
           Pair.1 AS Id, Pair.2 AS Other, Timestamp, ConnectionId
    FROM {{table "access_events"}}
)
GROUP BY Id

-- name: add the events stored before
{{if not .Cluster}}INSERT INTO {{name "access_events_id_ts"}} (Id, Start, End, Related, Connections)
SELECT Pair.1, Timestamp, Timestamp, [Pair.2], arrayFilter(c -> c != '', [ConnectionId])
FROM
(
    SELECT arrayJoin(arrayFilter(p -> p.1 != '', [(RequestId, TraceId), (TraceId, RequestId)])) AS Pair,
           Timestamp, ConnectionId
    FROM {{name "access_events"}}
)
WHERE (SELECT count() FROM {{name "access_events_id_ts"}} WHERE notEmpty(Related)) = 0{{end}}
