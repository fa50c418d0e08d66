-- wrk script for bench/ingest_bench.py's freshness phase: bench/ingest.lua's requests at a steady rate, the
-- third argument in requests/s per thread. Each request takes the next slot of a fixed schedule and waits for
-- it (wrk's delay hook); the connections only need to outnumber the requests in flight.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } chatlens_timespec;
  int clock_gettime(int clock, chatlens_timespec *now);
]]
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "ingest.lua")

local clock = ffi.new("chatlens_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local init_requests = init
function init(args)
  init_requests(args)
  interval, slots = 1000 / tonumber(args[3]), 0
end

function delay()
  start = start or now_ms()
  slots = slots + 1
  return math.max(0, math.floor(start + slots * interval - now_ms()))
end
