// The Lua scripts of RedisRunStore, each atomic in Redis. Key layout under the prefix
// P = `evloop:runs:{NAME}:` (the hash tag keeps a queue's records in one cluster slot):
//   P r:<id>               hash: b (JSON of id, task, key, params, createdAt — never rewritten by
//                          Lua, so user data round-trips exactly), s status, c category, a attempts,
//                          q sequence, t task, st startedAt, en endedAt, res result JSON, err error JSON
//   P seq                  the creation counter (a run's score: newest first, no ties)
//   P all, P t:<task>, P c:<category>, P tc:<task>:<category>
//                          sorted sets by sequence: the list indexes and their ZCARD totals
//   P done                 finished ids by end time (ms): retention trims from its low end
//   P feed                 a capped stream of changes, read by every process's watcher
// Only the run's hash is declared in KEYS; the index keys derive from the prefix (same hash tag).

/**
 * A new run's record, as a Lua function shared with the queue's enqueue script (the record and
 * the message in one atomic step). Arguments: prefix, id, task, base JSON, origin, feed max.
 * 1 = inserted, 0 = the run exists (kept).
 */
export const RECORD_INSERT_FN = `
local function record_insert(P, id, task, base, origin, feedmax)
  local h = P .. 'r:' .. id
  if redis.call('EXISTS', h) == 1 then return 0 end
  local seq = redis.call('INCR', P .. 'seq')
  redis.call('HSET', h, 'b', base, 's', '1', 'c', 'init', 'a', '0', 'q', seq, 't', task)
  redis.call('ZADD', P .. 'all', seq, id)
  redis.call('ZADD', P .. 't:' .. task, seq, id)
  redis.call('ZADD', P .. 'c:init', seq, id)
  redis.call('ZADD', P .. 'tc:' .. task .. ':init', seq, id)
  redis.call('XADD', P .. 'feed', 'MAXLEN', '~', feedmax, '*', 'id', id, 't', task, 'o', origin, 'k', 'new')
  return 1
end
`;

// ARGV: record_insert's arguments.
export const INSERT = RECORD_INSERT_FN + `
return record_insert(unpack(ARGV))
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
redis.call('XADD', P .. 'feed', 'MAXLEN', '~', ARGV[4], '*', 'id', id, 't', f[1], 'o', ARGV[3], 'k', 'gone')
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
 * command itself, and these run several times per run.
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
  if old ~= cat then
    redis.call('ZREM', P .. 'c:' .. old, id)
    redis.call('ZREM', P .. 'tc:' .. task .. ':' .. old, id)
    redis.call('ZADD', P .. 'c:' .. cat, seq, id)
    redis.call('ZADD', P .. 'tc:' .. task .. ':' .. cat, seq, id)
  end
  if step == 'finish' then
    local now = tonumber(nowms)
    redis.call('ZADD', P .. 'done', now, id)
    -- Retention, at most 100 records per call (each finish adds one, so the excess cannot grow).
    local function drop(rid)
      local rh = P .. 'r:' .. rid
      local f = redis.call('HMGET', rh, 't', 'c')
      if f[1] then
        redis.call('ZREM', P .. 'all', rid)
        redis.call('ZREM', P .. 't:' .. f[1], rid)
        redis.call('ZREM', P .. 'c:' .. f[2], rid)
        redis.call('ZREM', P .. 'tc:' .. f[1] .. ':' .. f[2], rid)
        redis.call('DEL', rh)
      end
      redis.call('ZREM', P .. 'done', rid)
    end
    local excess = redis.call('ZCARD', P .. 'done') - tonumber(maxfin)
    if excess > 100 then excess = 100 end
    if excess > 0 then
      for _, rid in ipairs(redis.call('ZRANGE', P .. 'done', 0, excess - 1)) do drop(rid) end
    end
    local age = tonumber(maxage)
    if age > 0 then
      for _, rid in ipairs(redis.call('ZRANGEBYSCORE', P .. 'done', '-inf', '(' .. (now - age), 'LIMIT', 0, 100)) do drop(rid) end
    end
  end
  redis.call('XADD', P .. 'feed', 'MAXLEN', '~', feedmax, '*', 'id', id, 't', task, 'o', origin, 'k', kind)
  return { cur[5], status, a, st, en, r, e }
end
`;

// ARGV: the arguments of record_update, in its order (without the attempts allowed).
export const UPDATE = RECORD_UPDATE_FN + `
return (record_update(unpack(ARGV, 1, 14)))
`;

// ARGV: the arguments of record_update for a start, the attempts allowed last. The worker's
// read and its start in one call: 0 when the run is unknown; { 1, fields } when it is not
// started (finished, or out of attempts: the worker decides which); { 2, fields } when started.
export const BEGIN = RECORD_UPDATE_FN + `
local reply, cur = record_update(unpack(ARGV, 1, 15))
if reply then return { 2, reply } end
if cur then return { 1, cur } end
return 0
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
