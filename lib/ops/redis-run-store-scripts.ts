// The Lua scripts of RedisRunStore, each atomic in Redis. Key layout under the prefix
// P = `evloop:runs:{NAME}:` (the hash tag keeps a queue's records in one cluster slot):
//   P r:<id>               hash: b (JSON of id, task, key, params, createdAt — never rewritten by
//                          Lua, so user data round-trips exactly), s status, c category, a attempts,
//                          q sequence, t task, st startedAt, en endedAt, res result JSON, err error JSON
//   P seq                  the creation counter (a run's score: newest first, no ties)
//   P all, P t:<task>, P c:<category>, P tc:<task>:<category>
//                          sorted sets by sequence: the list indexes and their ZCARD totals
//   P done                 finished ids by end time (ms): retention trims from its low end
//   P feed                 a capped stream of changes, read by every process's watcher: one
//                          entry per script call, o (the writer's origin) first, then per
//                          change <run id> "<kind> <task>"
// Only the run's hash is declared in KEYS; the index keys derive from the prefix (same hash tag).

/**
 * What one script call owes at its end, shared by every script that writes records: its index
 * writes (one ZADD or ZREM per sorted set), the change feed's entries of the call, written as
 * one stream entry (`o` origin, then per change its id as the field, "kind task" as the value:
 * two strings a change for the writer and every watcher to handle, not six), and the retention
 * trim, done once for the call's finishes. Every script that calls record_insert or
 * record_update ends with record_flush(). Per call rather than per record: an XADD with MAXLEN
 * costs Redis more than most of a transition, each redis.call costs more than the command's own
 * work on a small set, and a batch of enqueues, starts or acks would pay them once per run.
 */
export const RECORD_FLUSH_FN = `
-- Index writes wait for the call's end, one ZADD / ZREM per index for all its runs: a run met
-- again in the same call (or the trim) sends what waits first, so they apply in order.
local zq, zorder, ztouched = {}, {}, {}
local function index_flush()
  if #zorder == 0 then return end
  for _, k in ipairs(zorder) do
    local q = zq[k]
    redis.call(q.cmd, q.key, unpack(q.args))
  end
  zq, zorder, ztouched = {}, {}, {}
end
local function index_touch(id)
  if ztouched[id] then index_flush() end
  ztouched[id] = true
end
local function index_op(cmd, key, id, score)
  local k = cmd .. key
  local q = zq[k]
  if not q then
    q = { cmd = cmd, key = key, args = {} }
    zq[k] = q
    zorder[#zorder + 1] = k
  end
  local a = q.args
  if score then a[#a + 1] = score end
  a[#a + 1] = id
end
local feed, feedP, feedO, feedMax = {}, false, false, 0
local function feed_flush()
  if #feed > 0 then
    redis.call('XADD', feedP .. 'feed', 'MAXLEN', '~', feedMax, '*', 'o', feedO, unpack(feed))
    feed = {}
  end
end
local function feed_add(P, origin, feedmax, id, task, kind)
  if feedP ~= P or feedO ~= origin then
    feed_flush()
    feedP, feedO = P, origin
  end
  feedMax = feedmax
  local n = #feed
  feed[n + 1], feed[n + 2] = id, kind .. ' ' .. task
end
local trimP, trimMax, trimAge, trimNow, trimN = false, 0, 0, 0, 0
-- Retention: the oldest finished past the count, and those past the age, at most 100 more than
-- this call finished (so the excess cannot grow), each index written once for all of them.
local function record_trim()
  if not trimP then return end
  index_flush()
  local P, cap = trimP, trimN + 100
  trimP, trimN = false, 0
  local done = P .. 'done'
  local ids, seen = {}, {}
  local excess = redis.call('ZCARD', done) - trimMax
  if excess > cap then excess = cap end
  if excess > 0 then
    for _, rid in ipairs(redis.call('ZRANGE', done, 0, excess - 1)) do
      seen[rid] = true
      ids[#ids + 1] = rid
    end
  end
  if trimAge > 0 then
    for _, rid in ipairs(redis.call('ZRANGEBYSCORE', done, '-inf', '(' .. (trimNow - trimAge), 'LIMIT', 0, cap)) do
      if not seen[rid] then ids[#ids + 1] = rid end
    end
  end
  if #ids == 0 then return end
  local byKey, keys, hashes = {}, {}, {}
  local function rem(key, rid)
    local l = byKey[key]
    if not l then
      l = {}
      byKey[key] = l
      keys[#keys + 1] = key
    end
    l[#l + 1] = rid
  end
  for _, rid in ipairs(ids) do
    local rh = P .. 'r:' .. rid
    local f = redis.call('HMGET', rh, 't', 'c')
    if f[1] then
      rem(P .. 'all', rid)
      rem(P .. 't:' .. f[1], rid)
      rem(P .. 'c:' .. f[2], rid)
      rem(P .. 'tc:' .. f[1] .. ':' .. f[2], rid)
      hashes[#hashes + 1] = rh
    end
  end
  for _, key in ipairs(keys) do redis.call('ZREM', key, unpack(byKey[key])) end
  if #hashes > 0 then redis.call('DEL', unpack(hashes)) end
  redis.call('ZREM', done, unpack(ids))
end
local function record_flush()
  index_flush()
  record_trim()
  feed_flush()
end
`;

/**
 * A new run's record, as a Lua function shared with the queue's enqueue script (the record and
 * the message in one atomic step). Arguments: prefix, id, task, base JSON, origin, feed max.
 * 1 = inserted, 0 = the run exists (kept). RECORD_FLUSH_FN comes first.
 */
export const RECORD_INSERT_FN = `
local function record_insert(P, id, task, base, origin, feedmax)
  local h = P .. 'r:' .. id
  if redis.call('EXISTS', h) == 1 then return 0 end
  local seq = redis.call('INCR', P .. 'seq')
  redis.call('HSET', h, 'b', base, 's', '1', 'c', 'init', 'a', '0', 'q', seq, 't', task)
  index_touch(id)
  index_op('ZADD', P .. 'all', id, seq)
  index_op('ZADD', P .. 't:' .. task, id, seq)
  index_op('ZADD', P .. 'c:init', id, seq)
  index_op('ZADD', P .. 'tc:' .. task .. ':init', id, seq)
  feed_add(P, origin, feedmax, id, task, 'new')
  return 1
end
`;

// ARGV: record_insert's arguments.
export const INSERT = RECORD_FLUSH_FN + RECORD_INSERT_FN + `
local r = record_insert(unpack(ARGV))
record_flush()
return r
`;

// ARGV: prefix, id, origin, feed max. Removes the record and its index entries.
export const DISCARD = `
local h = KEYS[1]
local P, id = ARGV[1], ARGV[2]
local f = redis.call('HMGET', h, 't', 'c')
if not f[1] then return 0 end
redis.call('ZREM', P .. 'all', id)
redis.call('ZREM', P .. 't:' .. f[1], id)
redis.call('ZREM', P .. 'c:' .. f[2], id)
redis.call('ZREM', P .. 'tc:' .. f[1] .. ':' .. f[2], id)
redis.call('ZREM', P .. 'done', id)
redis.call('DEL', h)
redis.call('XADD', P .. 'feed', 'MAXLEN', '~', ARGV[4], '*', 'o', ARGV[3], id, 'gone ' .. f[1])
return 1
`;

const FIELDS = `'b', 's', 'a', 'st', 'en', 'res', 'err'`;

/**
 * The transition as a Lua function, shared with the queue's scripts (redis-queue-scripts.ts), so
 * that an acknowledgement and the run's final state are one atomic step. Arguments: prefix, id,
 * status, category, step ('' | 'start' | 'finish'), now ISO, now ms, result JSON ('' =
 * unchanged), error ('' = unchanged, '-' = remove, else JSON), origin, feed max, max finished,
 * max age ms (0 = none), feed kind, and optionally the attempts allowed (a start is refused at
 * that count). Returns the record's fields (as GET reads them), or nil when the run is unknown,
 * finished or refused: the first finishing transition wins, whichever process writes it. With
 * nil, the second value is the record's fields as they are (nil when the run is unknown).
 * One read and one write of the hash per transition: each redis.call costs more than the
 * command itself, and these run several times per run. The feed entry and the retention trim
 * are the call's record_flush() (RECORD_FLUSH_FN comes first).
 */
export const RECORD_UPDATE_FN = `
local function record_update(P, id, status, cat, step, nowiso, nowms, res, err, origin, feedmax, maxfin, maxage, kind, maxatt)
  local h = P .. 'r:' .. id
  local cur = redis.call('HMGET', h, 'q', 'en', 'c', 't', 'b', 's', 'a', 'st', 'res', 'err')
  if not cur[1] then return nil, nil end
  local seq, old, task = cur[1], cur[3], cur[4]
  local a, st, r, e = cur[7], cur[8], cur[9], cur[10]
  if cur[2] or (maxatt and tonumber(a) >= tonumber(maxatt)) then
    return nil, { cur[5], cur[6], a, st, cur[2], r, e }
  end
  local set = { 's', status, 'c', cat }
  if step == 'start' then
    a = tostring(tonumber(a) + 1)
    set[#set + 1] = 'a'
    set[#set + 1] = a
    if not st then
      st = nowiso
      set[#set + 1] = 'st'
      set[#set + 1] = st
    end
  end
  if res ~= '' then
    r = res
    set[#set + 1] = 'res'
    set[#set + 1] = res
  end
  if err == '-' then
    if e then redis.call('HDEL', h, 'err') end
    e = false
  elseif err ~= '' then
    e = err
    set[#set + 1] = 'err'
    set[#set + 1] = err
  end
  local en = false
  if step == 'finish' then
    en = nowiso
    set[#set + 1] = 'en'
    set[#set + 1] = en
  end
  redis.call('HSET', h, unpack(set))
  index_touch(id)
  if old ~= cat then
    index_op('ZREM', P .. 'c:' .. old, id)
    index_op('ZREM', P .. 'tc:' .. task .. ':' .. old, id)
    index_op('ZADD', P .. 'c:' .. cat, id, seq)
    index_op('ZADD', P .. 'tc:' .. task .. ':' .. cat, id, seq)
  end
  if step == 'finish' then
    local now = tonumber(nowms)
    index_op('ZADD', P .. 'done', id, now)
    if trimP and trimP ~= P then record_trim() end
    trimP, trimMax, trimAge, trimNow, trimN = P, tonumber(maxfin), tonumber(maxage), now, trimN + 1
  end
  feed_add(P, origin, feedmax, id, task, kind)
  return { cur[5], status, a, st, en, r, e }
end
`;

// ARGV: the arguments of record_update, in its order (without the attempts allowed).
export const UPDATE = RECORD_FLUSH_FN + RECORD_UPDATE_FN + `
local r = record_update(unpack(ARGV, 1, 14))
record_flush()
return r
`;

// ARGV: the arguments of record_update for a start, with '' for the id and without the attempts
// allowed, then per run its id and the attempts allowed: the starts of one loop pass in one call.
// The worker's read and its start in one step; per run 0 when it is unknown; { 1, fields } when
// it is not started (finished, or out of attempts: the worker decides which); { 2, fields } when
// started.
export const BEGIN = RECORD_FLUSH_FN + RECORD_UPDATE_FN + `
local a = { unpack(ARGV, 1, 14) }
local out = {}
for i = 15, #ARGV, 2 do
  a[2], a[15] = ARGV[i], ARGV[i + 1]
  local reply, cur = record_update(unpack(a, 1, 15))
  if reply then out[#out + 1] = { 2, reply }
  elseif cur then out[#out + 1] = { 1, cur }
  else out[#out + 1] = 0 end
end
record_flush()
return out
`;

// ARGV: prefix, index key (after the prefix), offset, limit. Returns { total, { fields… } }:
// the page and its total from one consistent moment.
export const LIST = `
local P = ARGV[1]
local z = P .. ARGV[2]
local total = redis.call('ZCARD', z)
local limit = tonumber(ARGV[4])
local out = {}
if limit > 0 then
  local offset = tonumber(ARGV[3])
  local ids = redis.call('ZREVRANGE', z, offset, offset + limit - 1)
  for i, rid in ipairs(ids) do out[i] = redis.call('HMGET', P .. 'r:' .. rid, ${FIELDS}) end
end
return { total, out }
`;
