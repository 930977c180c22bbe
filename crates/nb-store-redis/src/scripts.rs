//! The Lua scripts the store runs on Redis: each touches one key (one hash-tagged slot).

/// Sets the key to the fact if it ends later than what is there, and publishes it. The
/// value starts with its end in unix milliseconds; it expires then.
pub(crate) const EXTEND: &str = r"
local cur = redis.call('GET', KEYS[1])
local cur_ms = 0
if cur then cur_ms = tonumber(string.match(cur, '^(%d+)')) or 0 end
local new_ms = tonumber(ARGV[1])
if new_ms > cur_ms then
  redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'PXAT', ARGV[1])
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return 1
end
return 0
";

/// Leases up to `ARGV[3]` cells of a GCRA (emission interval `ARGV[1]` µs, tolerance
/// `ARGV[2]` µs) on Redis's clock. Returns `{granted, wait_ms}`.
pub(crate) const LEASE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local k = math.floor((now + burst - tat) / interval)
if k > want then k = want end
if k < 0 then k = 0 end
if k > 0 then
  tat = tat + k * interval
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
  return {k, 0}
end
return {0, math.ceil((tat + interval - burst - now) / 1000)}
";

/// A caller's requests and tokens per minute, fleet-wide: a GCRA per unit (`KEYS[1]`
/// requests, `KEYS[2]` tokens; emission intervals `ARGV[1]` and `ARGV[2]` µs, 0 for no
/// limit; `ARGV[3]` tokens) with a tolerance of a whole minute, so a caller may spend
/// its minute's budget at once, as the local pacer allows. Both or neither are taken.
/// Returns 0, or how many milliseconds until the request would fit.
pub(crate) const CALLER_PACE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local minute = 60000000
local function step(key, interval, cost)
  local tat = tonumber(redis.call('GET', key) or '0') or 0
  if tat < now then tat = now end
  local new = tat + interval * cost
  return new, new - minute - now
end
local wait = 0
local rn
local tn
local ri = tonumber(ARGV[1])
local ti = tonumber(ARGV[2])
if ri > 0 then
  local w
  rn, w = step(KEYS[1], ri, 1)
  if w > wait then wait = w end
end
if ti > 0 then
  local w
  tn, w = step(KEYS[2], ti, tonumber(ARGV[3]))
  if w > wait then wait = w end
end
if wait > 0 then return math.ceil(wait / 1000) end
if rn then redis.call('SET', KEYS[1], string.format('%.0f', rn), 'PX', math.ceil((rn - now) / 1000) + 1000) end
if tn then redis.call('SET', KEYS[2], string.format('%.0f', tn), 'PX', math.ceil((tn - now) / 1000) + 1000) end
return 0
";

/// A caller's spend in its window (`KEYS[1]`, a hash of `spent` and `held`, expiring
/// `ARGV[4]` ms after the first hold). `ARGV[1]` = `reserve`: holds `ARGV[3]` if spent,
/// held and it together stay within `ARGV[2]`; returns 0, or the milliseconds until the
/// window ends. `settle`: releases a hold of `ARGV[2]` and adds `ARGV[3]` spent (a
/// window that ended meanwhile is not started again by it).
pub(crate) const SPEND: &str = r"
if ARGV[1] == 'reserve' then
  local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0') or 0
  local held = tonumber(redis.call('HGET', KEYS[1], 'held') or '0') or 0
  if spent + held + tonumber(ARGV[3]) > tonumber(ARGV[2]) then
    local ttl = redis.call('PTTL', KEYS[1])
    if ttl < 1 then ttl = tonumber(ARGV[4]) end
    return ttl
  end
  redis.call('HINCRBYFLOAT', KEYS[1], 'held', ARGV[3])
  if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
  return 0
end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local held = (tonumber(redis.call('HGET', KEYS[1], 'held') or '0') or 0) - tonumber(ARGV[2])
if held < 0 then held = 0 end
redis.call('HSET', KEYS[1], 'held', string.format('%.17g', held))
redis.call('HINCRBYFLOAT', KEYS[1], 'spent', ARGV[3])
return 0
";
