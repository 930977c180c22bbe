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
