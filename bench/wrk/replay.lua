-- Replays a prepared list of requests, one after another, so every request can
-- carry its own path, bearer token and body (a join of a distinct user, a
-- webhook with a distinct event id). Usage:
--   wrk -t1 -c32 -d10s -s replay.lua http://host:port -- requests.tsv
-- requests.tsv: one request per line, tab-separated: METHOD PATH HEADERS BODY,
-- HEADERS being "name: value" pairs joined by "\n" (a literal backslash-n).
-- At the end it prints one line "WRK_RESULT {json}" for the harness.

local requests = {}
local position = 0

local function unescape(s)
  return (s:gsub("\\n", "\n"))
end

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    local method, path, headerText, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t?(.*)$")
    local headers = {}
    for header in unescape(headerText):gmatch("[^\n]+") do
      local name, value = header:match("^([^:]+):%s*(.*)$")
      headers[name] = value
    end
    if body == "" then body = nil end
    requests[#requests + 1] = wrk.format(method, path, headers, body)
  end
  file:close()
end

function request()
  position = position + 1
  if position > #requests then
    position = 1
  end
  return requests[position]
end

function done(summary, latency, requests_)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.mean, latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
