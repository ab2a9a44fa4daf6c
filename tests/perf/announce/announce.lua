-- wrk script: realistic announces over the benchmark's torrents.
-- The runner prepends `hashes` (percent-encoded info hashes), `passkeys`, `mode` ("django" or "opentracker")
-- and `peers`: "new" makes every request a brand-new peer's `started` (the costliest announce: the rules'
-- gate judges each one); "returning" has each thread's POOL peers announce again and again, as a tracker's
-- steady load is (regular announces of live peers, their counters growing: credited, not judged).
local POOL = 2000
local threads = {}
counter = 0
failures = 0
responses = 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + id)
  run = math.random(0, 9999)  -- peer ids never repeat across runs (warm-up included)
end

local function returning()
  local slot = counter % POOL
  -- counters grow across wrk runs too (the warm-up's peers are the measured run's): seconds since late 2025, then rounds
  local round = (os.time() - 1764000000) * 100 + math.floor(counter / POOL)
  local left, downloaded = 0, 0
  if slot % 10 < 7 then left, downloaded = 1000000000 - (round % 1000000), (round % 1000000) * 1024 end
  local path = "/announce?"
  if mode == "django" then path = "/announce/" .. passkeys[(slot + id) % #passkeys + 1] .. "?" end
  path = path .. "info_hash=" .. hashes[(slot * 7 + id) % #hashes + 1] .. "&peer_id="
    .. string.format("-qB4650-%04d%02d%06d", 0, id, slot) .. "&port=" .. (20000 + slot) .. "&uploaded=" .. string.format("%.0f", round * 1024)
    .. "&downloaded=" .. string.format("%.0f", downloaded) .. "&left=" .. string.format("%.0f", left) .. "&corrupt=0&key=" .. string.format("%08X", slot)
    .. "&numwant=50&compact=1&no_peer_id=1"
  return wrk.format("GET", path, {["User-Agent"] = "qBittorrent/4.6.5"})
end

function request()
  counter = counter + 1
  if peers == "returning" then return returning() end
  local info_hash = hashes[math.random(#hashes)]
  local peer_id = string.format("-qB4650-%04d%02d%06d", run, id, counter % 1000000)
  local left = 0
  if math.random() < 0.7 then left = math.random(1, 1000000000) end
  local path
  if mode == "django" then
    path = "/announce/" .. passkeys[math.random(#passkeys)] .. "?"
  else
    path = "/announce?"
  end
  path = path .. "info_hash=" .. info_hash .. "&peer_id=" .. peer_id .. "&port=" .. math.random(20000, 60000)
    .. "&uploaded=0&downloaded=0&left=" .. left .. "&corrupt=0&key=" .. string.format("%08X", counter)
    .. "&event=started&numwant=50&compact=1&no_peer_id=1"
  return wrk.format("GET", path, {["User-Agent"] = "qBittorrent/4.6.5"})
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 or string.find(body, "failure reason", 1, true) then
    failures = failures + 1
    if failures <= 3 then
      io.write("FAILURE " .. status .. " " .. string.sub(body, 1, 120) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local f, r = 0, 0
  for _, thread in ipairs(threads) do
    f = f + thread:get("failures")
    r = r + thread:get("responses")
  end
  io.write(string.format("RESULT failures=%d responses=%d p50_ms=%.3f p99_ms=%.3f\n", f, r,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
