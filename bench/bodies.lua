-- POST pre-built JSON bodies, each sent once; counts answers by status for the report.
-- Set by the runner through environment variables:
--   BENCH_PATH    the path to POST to
--   BENCH_BODIES  a file of request bodies, one a line (each with its own solved challenge, name
--                 and address: a solution is good for one booking only)
--   BENCH_STRIDE  the number of wrk threads: thread N sends lines N, N + stride, N + 2 * stride, ...
--                 so no two threads share a body
-- A thread that has sent all of its lines starts again from its first (those answers are 422:
-- spent); it counts them, and done() prints "REUSED <n>" so the runner can say so.
local bodies = {}
local counter = 0
local reused = 0
local statuses = {}
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local stride = tonumber(os.getenv("BENCH_STRIDE") or "1") or 1
  local line_no = 0
  for line in io.lines(os.getenv("BENCH_BODIES")) do
    if line_no % stride == id - 1 then table.insert(bodies, line) end
    line_no = line_no + 1
  end
  if #bodies == 0 then error("no bodies for thread " .. id) end
  wrk.method = "POST"
  wrk.path = os.getenv("BENCH_PATH")
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  if counter > #bodies then
    reused = reused + 1
    used = tostring(reused) -- exposed to done()
  end
  return wrk.format(nil, nil, nil, bodies[((counter - 1) % #bodies) + 1])
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
  local again = 0
  for _, thread in ipairs(threads) do
    local c = thread:get("counts") or ""
    for code, n in string.gmatch(c, "(%d+)=(%d+)") do
      total[code] = (total[code] or 0) + tonumber(n)
    end
    again = again + (tonumber(thread:get("used") or "0") or 0)
  end
  local parts = {}
  for code, n in pairs(total) do table.insert(parts, code .. "=" .. n) end
  io.write("STATUS " .. table.concat(parts, ",") .. "\n")
  io.write("REUSED " .. again .. "\n")
end
