-- wrk script for bench/ingest_bench.py: each thread POSTs its own share of pre-signed webhooks, in order,
-- each once (unique ids). The file holds one request per line: path \1 headers (name: value, \2 between) \1 body.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local file, count = args[1], tonumber(args[2])
  requests, sent = {}, 0
  local index = 0
  for line in io.lines(file) do
    if index % count == id then
      local path, headers, body = line:match("^([^\1]*)\1([^\1]*)\1(.*)$")
      local h = {}
      for pair in headers:gmatch("[^\2]+") do
        local name, value = pair:match("^([^:]+): (.*)$")
        h[name] = value
      end
      table.insert(requests, wrk.format("POST", path, h, body))
    end
    index = index + 1
  end
end

function request()
  sent = sent + 1
  return requests[((sent - 1) % #requests) + 1]
end

function done(summary, latency, requests_)
  for _, thread in ipairs(threads) do
    io.write(string.format("SENT %d %d\n", thread:get("id"), thread:get("sent")))
  end
end
