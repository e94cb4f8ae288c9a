-- Runs once when the interpreter is built (chunk name "=sandbox"): the
-- redis.* API over the Rust primitives in `internal`, Redis's error handler,
-- the deterministic math.random, and Redis 7.0's read-only globals.
-- Returns the protected globals table that scripts get as their environment.
local G, internal = ...

local raw_error, raw_type, raw_tostring, raw_tonumber = error, type, tostring, tonumber
local raw_select, raw_setmetatable, raw_rawset = select, setmetatable, rawset
local raw_getmetatable = getmetatable
local raw_pairs, raw_ipairs, raw_next = pairs, ipairs, next
local floor, concat = math.floor, table.concat
local getinfo = debug.getinfo

-- Errors the redis.* functions raise as tables, as Redis does (no position).
-- They run behind a Rust trampoline (so a tail call keeps the script's
-- frame), hence the table also waits in `internal.pending`.
local function fail(message)
  local err = { err = 'ERR ' .. message }
  internal.pending = err
  raw_error(err)
end

-- Redis's parsing of an error text: "-CODE message" keeps its code, any other
-- text gets ERR; CR and LF are trimmed from both ends.
local function error_table(text)
  local code, message = 'ERR', text
  if text:sub(1, 1) == '-' then
    local space = text:find(' ', 1, true)
    if space then
      code, message = text:sub(2, space - 1), text:sub(space + 1)
    else
      message = text:sub(2)
    end
  end
  message = message:gsub('^[\r\n]+', ''):gsub('[\r\n]+$', '')
  return { err = code .. ' ' .. message }
end

-- redis.call, redis.pcall and redis.acl_check_cmd are Rust functions set
-- into this table for each run (they reach the running command's shards).
local redis = {}
internal.redis = redis
internal.resp = 2

local function single_string(...)
  return raw_select('#', ...) == 1 and raw_type((...)) == 'string'
end

function redis.error_reply(...)
  if not single_string(...) then
    return { err = 'ERR wrong number or type of arguments' }
  end
  local text = ...
  if text:sub(1, 1) ~= '-' then
    text = '-' .. text
  end
  return error_table(text)
end

function redis.status_reply(...)
  if not single_string(...) then
    return { err = 'ERR wrong number or type of arguments' }
  end
  return { ok = (...) }
end

function redis.sha1hex(...)
  if raw_select('#', ...) ~= 1 then
    fail('wrong number of arguments')
  end
  return internal.sha1hex(raw_tostring((...)))
end

redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3

function redis.log(...)
  local n = raw_select('#', ...)
  if n < 2 then
    fail('redis.log() requires two arguments or more.')
  end
  local level = raw_tonumber((...))
  if not level or level < 0 or level > 3 then
    fail('Invalid debug level.')
  end
  local parts = {}
  for i = 2, n do
    local part = raw_select(i, ...)
    if raw_type(part) == 'string' or raw_type(part) == 'number' then
      parts[#parts + 1] = part
    end
  end
  internal.log(floor(level), concat(parts, " "))
end

function redis.setresp(...)
  if raw_select('#', ...) ~= 1 then
    fail('redis.setresp() requires one argument.')
  end
  local resp = raw_tonumber((...))
  if resp ~= 2 and resp ~= 3 then
    fail('RESP version must be 2 or 3.')
  end
  internal.resp = resp
end

redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3

function redis.set_repl(...)
  if raw_select('#', ...) ~= 1 then
    fail('redis.set_repl() requires one argument.')
  end
  local flags = raw_tonumber((...))
  if not flags or flags < 0 or flags > 3 then
    fail('Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.')
  end
end

function redis.replicate_commands()
  return true
end

-- The debugger (redis-cli --ldb) is not offered: both are no-ops outside it.
function redis.breakpoint()
  return false
end

function redis.debug() end

redis.REDIS_VERSION = internal.version
redis.REDIS_VERSION_NUM = internal.version_num

-- math.random over Redis's lrand48, reseeded before every script so that
-- scripts stay deterministic.
local rand48, srand48 = internal.rand48, internal.srand48

local function check_int(value, position, name)
  local n = raw_tonumber(value)
  if n == nil then
    local got = value == nil and 'no value' or raw_type(value)
    raw_error("bad argument #" .. position .. " to '" .. name .. "' (number expected, got " .. got .. ")", 3)
  end
  if n >= 0 then
    return floor(n)
  end
  return -floor(-n)
end

function math.random(...)
  local r = rand48()
  local n = raw_select('#', ...)
  if n == 0 then
    return r
  elseif n == 1 then
    local upper = check_int((...), 1, 'random')
    if upper < 1 then
      raw_error("bad argument #1 to 'random' (interval is empty)", 2)
    end
    return floor(r * upper) + 1
  elseif n == 2 then
    local lower, upper = ...
    lower, upper = check_int(lower, 1, 'random'), check_int(upper, 2, 'random')
    if lower > upper then
      raw_error("bad argument #2 to 'random' (interval is empty)", 2)
    end
    return floor(r * (upper - lower + 1)) + lower
  end
  raw_error('wrong number of arguments', 2)
end

function math.randomseed(seed)
  srand48(check_int(seed, 1, 'randomseed'))
end

-- Redis's message handler: the error becomes {err=...} and records where the
-- script was when it failed. Frames of C functions and of this file are
-- skipped, so the position is always the script's own line.
function G.__redis__err__handler(err)
  local level, info = 2, nil
  repeat
    info = getinfo(level, 'Sl')
    level = level + 1
  until not info or (info.what ~= 'C' and info.source ~= '=sandbox')
  if raw_type(err) ~= 'table' then
    local pending = internal.pending
    if pending ~= nil then
      internal.pending = nil
      err = pending
    else
      err = { err = 'ERR ' .. raw_tostring(err) }
    end
  end
  if info then
    err.source = info.source
    err.line = info.currentline
  end
  return err
end

local handler = G.__redis__err__handler
function internal.run(f)
  return xpcall(f, handler)
end

G.redis = redis

-- Redis's pcall hands back the text of an {err=...} error, not the table.
local raw_pcall = pcall
local function pcall_result(ok, ...)
  if ok then
    return true, ...
  end
  local e = ...
  if raw_type(e) == 'userdata' and internal.pending ~= nil then
    e = internal.pending
    internal.pending = nil
  end
  if raw_type(e) == 'table' then
    local message = e.err
    if raw_type(message) == 'string' or raw_type(message) == 'number' then
      return false, message
    end
  end
  return false, e
end

function G.pcall(...)
  return pcall_result(raw_pcall(...))
end

-- Read-only tables: a script sees an empty proxy that reads through to the
-- real table and refuses writes, so no script can change what the next one
-- sees.
local real_of = raw_setmetatable({}, { __mode = 'k' })

local function refuse_write()
  raw_error('Attempt to modify a readonly table', 2)
end

local function protect(t)
  local proxy = raw_setmetatable({}, { __index = t, __newindex = refuse_write, __metatable = false })
  real_of[proxy] = t
  return proxy
end

-- What getmetatable shows for a proxy: nothing for the libraries, a
-- read-only copy of the globals' metatable for _G, as in Redis.
local shown_meta = raw_setmetatable({}, { __mode = 'k' })

function G.getmetatable(t)
  if real_of[t] then
    return shown_meta[t]
  end
  return raw_getmetatable(t)
end

function G.setmetatable(t, mt)
  if real_of[t] then
    raw_error('Attempt to modify a readonly table', 0)
  end
  return raw_setmetatable(t, mt)
end

function G.rawset(t, k, v)
  if real_of[t] then
    raw_error('Attempt to modify a readonly table', 0)
  end
  return raw_rawset(t, k, v)
end

function G.pairs(t)
  return raw_pairs(real_of[t] or t)
end

function G.ipairs(t)
  return raw_ipairs(real_of[t] or t)
end

function G.next(t, k)
  return raw_next(real_of[t] or t, k)
end

local allowed = {
  'assert', 'collectgarbage', 'coroutine', 'error', 'gcinfo', 'getmetatable', 'ipairs',
  'load', 'loadstring', 'math', 'next', 'pairs', 'pcall', 'rawequal', 'rawget', 'rawset',
  'select', 'setmetatable', 'string', 'table', 'tonumber', 'tostring', 'type', 'unpack',
  'xpcall', '_VERSION', 'redis', 'bit', 'cjson', 'cmsgpack', 'struct', '__redis__err__handler',
}
local keep = {}
for _, name in raw_ipairs(allowed) do
  keep[name] = true
end
local doomed = {}
for name in raw_pairs(G) do
  if not keep[name] then
    doomed[#doomed + 1] = name
  end
end
for _, name in raw_ipairs(doomed) do
  G[name] = nil
end

for name, value in raw_pairs(G) do
  if raw_type(value) == 'table' then
    G[name] = protect(value)
  end
end

-- Strings share one metatable: scripts see a read-only one, so no script
-- can break string methods for the next.
raw_getmetatable('').__metatable = protect({ __index = G.string })

local function missing_global(_, name)
  raw_error("Script attempted to access nonexistent global variable '" .. raw_tostring(name) .. "'", 2)
end
local globals = protect(G)
shown_meta[globals] = protect({ __index = missing_global })
G._G = globals
raw_setmetatable(G, { __index = missing_global })
return globals
