-- POST JSON bodies built per request; counts answers by status for the report.
-- Set by the runner through environment variables:
--   BENCH_PATH   the path to POST to
--   BENCH_STARTS comma-separated slot starts to spread over (one = all on one slot)
--   BENCH_SERVICE the service id
local counter = 0
local starts = {}
local statuses = {}
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  for s in string.gmatch(os.getenv("BENCH_STARTS") or "", "[^,]+") do table.insert(starts, s) end
  wrk.method = "POST"
  wrk.path = os.getenv("BENCH_PATH")
  wrk.headers["Content-Type"] = "application/json"
  statuses = {}
end

function request()
  counter = counter + 1
  local start = starts[(counter % #starts) + 1]
  local body = string.format(
    '{"service": "%s", "start": "%s", "name": "Bench %d-%d", "email": "b%d-%d@example.org"}',
    os.getenv("BENCH_SERVICE"), start, id, counter, id, counter)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  -- expose the counts to done()
  local parts = {}
  for code, n in pairs(statuses) do table.insert(parts, code .. "=" .. n) end
  counts = table.concat(parts, ",")
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts") or ""
    for code, n in string.gmatch(c, "(%d+)=(%d+)") do
      total[code] = (total[code] or 0) + tonumber(n)
    end
  end
  local parts = {}
  for code, n in pairs(total) do table.insert(parts, code .. "=" .. n) end
  io.write("STATUS " .. table.concat(parts, ",") .. "\n")
end
