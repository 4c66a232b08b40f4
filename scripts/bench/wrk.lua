-- wrk script for scripts/bench-tracking. Configured by environment variables:
--   BENCH_METHOD  GET or POST (default GET)
--   BENCH_AUTH    an API key, sent as "Authorization: Bearer ..." (optional)
--   BENCH_BODY    a fixed JSON body (optional)
--   BENCH_EXPECT  the one status code that counts as success (default 200)
--   BENCH_CONVERT a referral code: build a conversion body per request, with an orderId
--                 unique per request ("<BENCH_RUN>-<thread>-<counter>")
--   BENCH_RUN     a prefix that keeps orderIds unique across runs (default: the time)
--   BENCH_SPREAD  "PREFIX:N": with BENCH_CONVERT set, each conversion names a random one of
--                 the N referral codes PREFIX0000 .. PREFIX<N-1> (four digits) instead
--   BENCH_TARGETS "HOST:PORT HOST:PORT ...": wrk threads connect to these in turn (one
--                 server per thread, round-robin) instead of the URL's host; the URL still
--                 gives the path. Used to load two replicas at once.
-- Every response whose status is not BENCH_EXPECT is counted; done() prints one
-- machine-readable line starting with "BENCH " (latencies in microseconds).

local method = os.getenv("BENCH_METHOD") or "GET"
local auth = os.getenv("BENCH_AUTH")
local body = os.getenv("BENCH_BODY")
local expect = tonumber(os.getenv("BENCH_EXPECT") or "200")
local convert_code = os.getenv("BENCH_CONVERT")
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local spread = os.getenv("BENCH_SPREAD")
local spread_prefix, spread_n = nil, 0
if spread and spread ~= "" then
  spread_prefix, spread_n = string.match(spread, "^(.*):(%d+)$")
  spread_n = tonumber(spread_n)
end
local targets = os.getenv("BENCH_TARGETS")
local target_addrs = nil

wrk.method = method
wrk.headers["Accept"] = "application/json"
if auth and auth ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. auth
end
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

-- Main state: one entry per thread, read back in done().
local threads = {}
local next_tid = 0

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
  if targets and targets ~= "" then
    if target_addrs == nil then
      target_addrs = {}
      for hp in string.gmatch(targets, "%S+") do
        local h, p = string.match(hp, "^(.*):(%d+)$")
        table.insert(target_addrs, wrk.lookup(h, p)[1])
      end
    end
    thread.addr = target_addrs[((next_tid - 1) % #target_addrs) + 1]
  end
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
end

-- Thread states.
ok_n = 0
bad_n = 0
seen = {}
local counter = 0

if convert_code and convert_code ~= "" then
  wrk.headers["Content-Type"] = "application/json"
  function request()
    counter = counter + 1
    local code = convert_code
    if spread_prefix then
      code = string.format("%s%04d", spread_prefix, math.random(0, spread_n - 1))
    end
    local b = string.format(
      '{"referralCode":"%s","amount":49.99,"orderId":"bench-%s-%d-%d"}',
      code, run, tid, counter)
    return wrk.format(nil, nil, nil, b)
  end
end

function response(status, headers, resp_body)
  if status == expect then
    ok_n = ok_n + 1
  else
    bad_n = bad_n + 1
    local k = tostring(status)
    seen[k] = (seen[k] or 0) + 1
    if bad_n <= 3 then
      io.stderr:write(string.format("unexpected %d: %s\n", status, string.sub(resp_body or "", 1, 300)))
    end
  end
end

function done(summary, latency, requests)
  local ok, bad, statuses = 0, 0, {}
  for _, t in ipairs(threads) do
    ok = ok + (t:get("ok_n") or 0)
    bad = bad + (t:get("bad_n") or 0)
    for k, v in pairs(t:get("seen") or {}) do
      statuses[k] = (statuses[k] or 0) + v
    end
  end
  local parts = {}
  for k, v in pairs(statuses) do
    table.insert(parts, k .. "x" .. v)
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "BENCH requests=%d rps=%.1f p50_us=%.0f p99_us=%.0f ok=%d bad=%d socket=%d statuses=%s\n",
    summary.requests, summary.requests / secs,
    latency:percentile(50), latency:percentile(99),
    ok, bad, e.connect + e.read + e.write + e.timeout,
    (#parts > 0) and table.concat(parts, ",") or "-"))
end
