// The RedisQueue's Lua scripts. Each runs atomically in Redis, so the "one queued-or-running
// message per key" guard, the fencing check and the hand-over between stream, delay set and dead
// letters never interleave with another process's. Every script gets the same seven keys.
//
// Layout (all keys share the {name} hash tag):
//   stream   ready and in-flight messages; fields r (runId), m (message JSON), k (key), d
//            (deliveries before this entry); consumer group 'workers'; nacked and dead-lettered
//            entries are deleted, acknowledged ones trimmed (trim(): bounded, empty once drained)
//   keys     hash key → runId: the guard, held from enqueue until ack / dead letter / remove
//   msgs     hash runId → {m, k, d, e}: the record (e: stream entry id, absent while delayed)
//   delayed  sorted set runId by due time (Redis server time, ms)
//   dead     stream of dead letters (MAXLEN-bounded)
//   fence    the scanner lease's fencing token
//   eids     hash stream entry id → runId

import { RECORD_FLUSH_FN, RECORD_INSERT_FN, RECORD_UPDATE_FN } from './redis-run-store-scripts';

const PRELUDE = `
local S, KH, MH, DZ, DL, FN, EH = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local G = 'workers'
-- The stream is only ever made here, with its group (emptied, it stays), so a missing stream is
-- the only case to handle: a refused XGROUP CREATE on every call costs more than this look.
if redis.call('EXISTS', S) == 0 then redis.call('XGROUP', 'CREATE', S, G, '0', 'MKSTREAM') end
local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function push(runId, rec)
  local id = redis.call('XADD', S, '*', 'r', runId, 'm', rec.m, 'k', rec.k, 'd', rec.d)
  rec.e = id
  redis.call('HSET', MH, runId, cjson.encode(rec))
  redis.call('HSET', EH, id, runId)
  return id
end
local function place(runId, rec, delay)
  if delay > 0 then
    rec.e = nil
    redis.call('HSET', MH, runId, cjson.encode(rec))
    redis.call('ZADD', DZ, nowms() + delay, runId)
  else
    push(runId, rec)
  end
end
local function release(runId, key)
  if redis.call('HGET', KH, key) == runId then redis.call('HDEL', KH, key) end
  redis.call('HDEL', MH, runId)
end
local function drop(runId, rec)
  release(runId, rec.k)
end
-- The delivery (entry id, consumer, delivery count) is the entry's current one: nobody claimed it since.
local function owned(id, consumer, count)
  local p = redis.call('XPENDING', S, G, id, id, 1)
  return p[1] ~= nil and p[1][2] == consumer and tonumber(p[1][4]) == count
end
-- Acknowledged entries leave the stream by a trim at the oldest entry still pending: reads take
-- entries in id order, so every entry before it was delivered and is no longer pending. A trim
-- drops whole listpack nodes at Redis's cost of one look per node, where XDEL of each entry
-- scans its node up to it. With nothing pending, everything up to the group's last delivery
-- goes, exactly (a drained queue's stream is empty). While one delivery stays pending long, the
-- entries acknowledged after it wait: past 1000 more than the queue's messages, acked (the
-- entries this call acknowledged) are deleted one by one, so the stream stays bounded.
local function trim(acked)
  local p = redis.call('XPENDING', S, G, '-', '+', 1)
  if p[1] then
    redis.call('XTRIM', S, 'MINID', '~', p[1][1])
    if #acked > 0 and redis.call('XLEN', S) > redis.call('HLEN', MH) + 1000 then redis.call('XDEL', S, unpack(acked)) end
    return
  end
  local last
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', S)) do
    for i = 1, #g, 2 do if g[i] == 'last-delivered-id' then last = g[i + 1] end end
  end
  local ms, seq = string.match(last or '', '^(%d+)-(%d+)$')
  if ms then redis.call('XTRIM', S, 'MINID', '=', ms .. '-' .. string.format('%d', tonumber(seq) + 1)) end
end
-- The entry's delivery is done (nacked, dead-lettered): the entry goes, and its runId (read from
-- the index) is returned.
local function unstream(id)
  redis.call('XACK', S, G, id)
  redis.call('XDEL', S, id)
  trim({})
  local runId = redis.call('HGET', EH, id)
  redis.call('HDEL', EH, id)
  return runId
end
local function fenced(token)
  if token == '' then return nil end
  local cur = tonumber(redis.call('GET', FN) or '0')
  if tonumber(token) < cur then
    return redis.error_reply('FENCED enqueue under fencing token ' .. token .. ', older than ' .. cur)
  end
  return nil
end
`;

/**
 * The enqueues of one loop pass in one call. ARGV, per message: the count of its arguments, then
 * runId, message JSON, key, delay ms, fence ('' for none), and optionally the run's new record
 * (record_insert's arguments after the id: prefix, task, base JSON, origin, feed max), written
 * only when the message is: a refused enqueue leaves no record behind. Returns per message, in
 * order, 1 or its refusal (an error reply in the array). Each is done before the next, so a key
 * twice in one call is refused the second time.
 */
export const ENQUEUE =
  PRELUDE +
  RECORD_FLUSH_FN +
  RECORD_INSERT_FN +
  `
local function enqueue(runId, json, key, delay, fence, P, task, base, origin, feedmax)
  local refused = fenced(fence)
  if refused then return refused end
  if redis.call('HEXISTS', KH, key) == 1 then return redis.error_reply('DUPKEY ' .. key) end
  if redis.call('HEXISTS', MH, runId) == 1 then return redis.error_reply('DUPRUN ' .. runId) end
  if P then record_insert(P, runId, task, base, origin, feedmax) end
  redis.call('HSET', KH, key, runId)
  place(runId, { m = json, k = key, d = 0 }, tonumber(delay))
  return 1
end
local out = {}
local i = 1
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  out[#out + 1] = enqueue(unpack(ARGV, i + 1, i + n))
  i = i + n + 1
end
record_flush()
return out
`;

/**
 * Moves due delayed messages to the stream and claims deliveries idle past the visibility
 * time-out. ARGV: consumer, visibility ms, max claims. Returns { claimed: [[id, fields, count]],
 * ms until the next delayed message is due (-1: none) }.
 */
export const FETCH =
  PRELUDE +
  `
local now = nowms()
local due = redis.call('ZRANGEBYSCORE', DZ, '-inf', now, 'LIMIT', 0, 100)
for _, runId in ipairs(due) do
  redis.call('ZREM', DZ, runId)
  local raw = redis.call('HGET', MH, runId)
  if raw then push(runId, cjson.decode(raw)) end
end
local out = {}
local claimed = redis.call('XAUTOCLAIM', S, G, ARGV[1], ARGV[2], '0-0', 'COUNT', ARGV[3])
for _, e in ipairs(claimed[2]) do
  local p = redis.call('XPENDING', S, G, e[1], e[1], 1)
  if p[1] then out[#out + 1] = { e[1], e[2], p[1][4] } end
end
-- Redis 7 reports pending entries whose stream entry is gone: their guards go with them.
for _, id in ipairs(claimed[3] or {}) do
  local runId = redis.call('HGET', EH, id)
  redis.call('HDEL', EH, id)
  if runId then
    local raw = redis.call('HGET', MH, runId)
    if raw then drop(runId, cjson.decode(raw)) end
  end
end
local nxt = redis.call('ZRANGE', DZ, 0, 0, 'WITHSCORES')
local wait = -1
if nxt[2] then wait = math.max(0, tonumber(nxt[2]) - now) end
return { out, wait }
`;

/**
 * The acks of one loop pass in one call. ARGV: consumer, then per ack its entry id, delivery
 * count, runId and key (the entry's r and k fields), the count of the run's final record's
 * arguments (0 for none), and those (record_update's, redis-run-store-scripts.ts). Returns per
 * ack, in order: 0 (refused: not the current delivery), 1 (acked), or with a record: its fields
 * as written, or 2 when the record was final already (the first final state wins). The record
 * is written in the same atomic step as XACK and the guard's release, so no process can die
 * between them. Each ack is checked against one read of this consumer's pending entries over
 * the call's id range (the delivery count must match: nobody claimed it since), and the same
 * delivery twice in one call is acknowledged once. The writes are one command per key for the
 * whole call: XACK, the guards' read and release, the records' and the index's HDEL, the trim.
 */
export const ACK =
  PRELUDE +
  RECORD_FLUSH_FN +
  RECORD_UPDATE_FN +
  `
local consumer = ARGV[1]
local at, lo, hi = {}, nil, nil
local i = 2
while i <= #ARGV do
  at[#at + 1] = i
  local ms, seq = string.match(ARGV[i], '^(%d+)-(%d+)$')
  if ms then
    ms, seq = tonumber(ms), tonumber(seq)
    if not lo or ms < lo[1] or (ms == lo[1] and seq < lo[2]) then lo = { ms, seq, ARGV[i] } end
    if not hi or ms > hi[1] or (ms == hi[1] and seq > hi[2]) then hi = { ms, seq, ARGV[i] } end
  end
  i = i + 5 + tonumber(ARGV[i + 4])
end
-- entry id -> its delivery count, for this consumer's pending entries in the call's range.
local mine = {}
if lo then
  for _, p in ipairs(redis.call('XPENDING', S, G, lo[3], hi[3], 1000000000, consumer)) do mine[p[1]] = tonumber(p[4]) end
end
local out, ids, runIds, keys = {}, {}, {}, {}
for j, i in ipairs(at) do
  local id = ARGV[i]
  local ok = 0
  if mine[id] and mine[id] == tonumber(ARGV[i + 1]) then
    mine[id] = nil
    ok = 1
    -- runId and key are the stream entry's, as the indexes have them: neither is read again.
    ids[#ids + 1], runIds[#runIds + 1], keys[#keys + 1] = id, ARGV[i + 2], ARGV[i + 3]
    local n = tonumber(ARGV[i + 4])
    if n > 0 then ok = record_update(unpack(ARGV, i + 5, i + 4 + n)) or 2 end
  end
  out[j] = ok
end
if #ids > 0 then
  redis.call('XACK', S, G, unpack(ids))
  -- A guard is released only while it is still this run's.
  local held = redis.call('HMGET', KH, unpack(keys))
  local free = {}
  for j, k in ipairs(keys) do if held[j] == runIds[j] then free[#free + 1] = k end end
  if #free > 0 then redis.call('HDEL', KH, unpack(free)) end
  redis.call('HDEL', MH, unpack(runIds))
  redis.call('HDEL', EH, unpack(ids))
  trim(ids)
end
record_flush()
return out
`;

/** ARGV: entry id, consumer, delivery count, delay ms. The key stays held. */
export const NACK =
  PRELUDE +
  `
if not owned(ARGV[1], ARGV[2], tonumber(ARGV[3])) then return 0 end
local runId = unstream(ARGV[1])
if not runId then return 0 end
local raw = redis.call('HGET', MH, runId)
if not raw then return 0 end
local rec = cjson.decode(raw)
rec.d = rec.d + tonumber(ARGV[3])
place(runId, rec, tonumber(ARGV[4]))
return 1
`;

/**
 * ARGV: entry id, consumer, delivery count, status, status message, failedAt (ISO), max dead
 * letters, and optionally the run's final record's arguments (as for ACK; then the reply is as
 * ACK's).
 */
export const DEAD_LETTER =
  PRELUDE +
  RECORD_FLUSH_FN +
  RECORD_UPDATE_FN +
  `
if not owned(ARGV[1], ARGV[2], tonumber(ARGV[3])) then return 0 end
local runId = unstream(ARGV[1])
if not runId then return 0 end
local raw = redis.call('HGET', MH, runId)
if not raw then return 0 end
local rec = cjson.decode(raw)
drop(runId, rec)
redis.call('XADD', DL, 'MAXLEN', ARGV[7], '*', 'r', runId, 'm', rec.m, 'k', rec.k, 's', ARGV[4], 'sm', ARGV[5], 't', ARGV[6])
if #ARGV < 8 then return 1 end
local r = record_update(unpack(ARGV, 8, #ARGV)) or 2
record_flush()
return r
`;

/** ARGV: entry id, consumer, delivery count. Resets the entry's idle time (no new delivery). */
export const EXTEND =
  PRELUDE +
  `
if not owned(ARGV[1], ARGV[2], tonumber(ARGV[3])) then return 0 end
redis.call('XCLAIM', S, G, ARGV[2], 0, ARGV[1], 'JUSTID')
return 1
`;

/** ARGV: runId. A queued or delayed message goes, with its guard; one in flight stays. */
export const REMOVE =
  PRELUDE +
  `
local raw = redis.call('HGET', MH, ARGV[1])
if not raw then return 0 end
local rec = cjson.decode(raw)
if rec.e then
  local p = redis.call('XPENDING', S, G, rec.e, rec.e, 1)
  if p[1] then return 0 end
  redis.call('XDEL', S, rec.e)
  redis.call('HDEL', EH, rec.e)
else
  redis.call('ZREM', DZ, ARGV[1])
end
drop(ARGV[1], rec)
return 1
`;

/** Returns [depth, inFlight, delayed, deadLetters]. */
export const STATS =
  PRELUDE +
  `
-- The stream also holds acknowledged entries that wait for a trim: the depth is what msgs holds
-- (every queued, delayed or in-flight message) less what is delayed or in flight.
local inflight = tonumber(redis.call('XPENDING', S, G)[1])
local delayed = redis.call('ZCARD', DZ)
return { redis.call('HLEN', MH) - delayed - inflight, inflight, delayed, redis.call('XLEN', DL) }
`;

/** ARGV: dead letter id, runId, message JSON. */
export const RETRY_DEAD_LETTER =
  PRELUDE +
  `
-- An id that is no stream id at all is not found either.
local e = redis.pcall('XRANGE', DL, ARGV[1], ARGV[1])
if e.err or #e == 0 then return redis.error_reply('DLNOTFOUND ' .. ARGV[1]) end
local f = e[1][2]
local key
for i = 1, #f, 2 do if f[i] == 'k' then key = f[i + 1] end end
if redis.call('HEXISTS', KH, key) == 1 then return redis.error_reply('DUPKEY ' .. key) end
if redis.call('HEXISTS', MH, ARGV[2]) == 1 then return redis.error_reply('DUPRUN ' .. ARGV[2]) end
redis.call('HSET', KH, key, ARGV[2])
push(ARGV[2], { m = ARGV[3], k = key, d = 0 })
redis.call('XDEL', DL, ARGV[1])
return 1
`;
