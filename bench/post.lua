-- POST JSON bodies built per request; counts answers by status for the report.
-- Set by the runner through environment variables:
--   BENCH_PATH      the path to POST to
--   BENCH_STARTS    comma-separated slot starts to spread over (one = all on one slot)
--   BENCH_SERVICE   the service id
--   BENCH_TAG       a tag of this run in every name and address: a run never repeats a request
--                   of an earlier one (the API answers a repeated booking with the one made before)
--   BENCH_STRIDE    optional, the number of wrk threads: the threads then walk the starts
--                   interleaved (thread 1 the 1st, 5th, ...) instead of all in the same order
--   BENCH_LANGUAGES optional, comma-separated: every second request asks for one of these as
--                   "counselling_language", in turn, at a start of BENCH_STARTS_<CODE> (the
--                   starts free in that language, upper-case code; default BENCH_STARTS)
local counter = 0
local starts = {}
local languages = {}
local starts_in = {}
local statuses = {}
local threads = {}
local tag = ""
local stride = 0

local function split(text)
  local found = {}
  for s in string.gmatch(text or "", "[^,]+") do table.insert(found, s) end
  return found
end

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  starts = split(os.getenv("BENCH_STARTS"))
  languages = split(os.getenv("BENCH_LANGUAGES"))
  for _, code in ipairs(languages) do
    local own = split(os.getenv("BENCH_STARTS_" .. string.upper(code)))
    starts_in[code] = (#own > 0) and own or starts
  end
  tag = os.getenv("BENCH_TAG") or ""
  stride = tonumber(os.getenv("BENCH_STRIDE") or "0") or 0
  wrk.method = "POST"
  wrk.path = os.getenv("BENCH_PATH")
  wrk.headers["Content-Type"] = "application/json"
  statuses = {}
end

function request()
  counter = counter + 1
  local position = counter
  if stride > 0 then position = counter * stride + id end
  local language = nil
  local from = starts
  if #languages > 0 and counter % 2 == 0 then
    language = languages[(math.floor(counter / 2) % #languages) + 1]
    from = starts_in[language]
  end
  local start = from[(position % #from) + 1]
  local extra = ""
  if language then extra = string.format(', "counselling_language": "%s"', language) end
  local body = string.format(
    '{"service": "%s", "start": "%s", "name": "Bench %s-%d-%d", "email": "b%s-%d-%d@example.org"%s}',
    os.getenv("BENCH_SERVICE"), start, tag, id, counter, tag, id, counter, extra)
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
