-- wrk script for bench/webhook.py: replay pre-built, signed WeChat requests, one per request() call.
--
--   wrk -t2 -c32 -d10s -s bench/wrk_requests.lua http://127.0.0.1:PORT -- requests.txt
--
-- requests.txt has one request per line: "<path-with-query>\t<body>" (bodies have no tabs or
-- newlines; bench/webhook.py writes them). Thread k of T keeps lines k, k+T, k+2T, … so threads
-- never send the same MsgId; each thread walks its own share in order and only wraps (replaying
-- MsgIds, which the bot then answers from its dedupe table) if the file is too short — `wrapped`
-- in the report says when that happened.
--
-- done() prints one line "WRK_RESULT {json}" with requests, duration, latency percentiles (µs),
-- socket errors, non-2xx responses and replies that are not XML ("success"/empty = no reply).

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  local nthreads = tonumber(args[2]) or 1
  local file = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  local headers = { ["Content-Type"] = "text/xml" }
  reqs, n, i = {}, 0, 0
  local line_no = 0
  for line in file:lines() do
    if line_no % nthreads == id then
      local tab = line:find("\t", 1, true)
      n = n + 1
      reqs[n] = wrk.format("POST", line:sub(1, tab - 1), headers, line:sub(tab + 1))
    end
    line_no = line_no + 1
  end
  file:close()
  assert(n > 0, "no requests for thread " .. id .. " in " .. path)
  sent, wrapped, non2xx, nonxml = 0, 0, 0, 0
end

function request()
  i = i + 1
  if i > n then
    i = 1
    wrapped = wrapped + 1
  end
  sent = sent + 1
  return reqs[i]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  elseif body == nil or body:sub(1, 5) ~= "<xml>" then
    nonxml = nonxml + 1
  end
end

function done(summary, latency, requests)
  local t = { sent = 0, wrapped = 0, non2xx = 0, nonxml = 0, loaded = 0 }
  for _, thread in ipairs(threads) do
    t.sent = t.sent + (thread:get("sent") or 0)
    t.wrapped = t.wrapped + (thread:get("wrapped") or 0)
    t.non2xx = t.non2xx + (thread:get("non2xx") or 0)
    t.nonxml = t.nonxml + (thread:get("nonxml") or 0)
    t.loaded = t.loaded + (thread:get("n") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"sent": %d, "wrapped": %d, "non2xx": %d, "nonxml": %d, "loaded": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout,
    t.sent, t.wrapped, t.non2xx, t.nonxml, t.loaded))
end
