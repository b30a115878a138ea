-- bench/http_wrk.lua: the requests of bench/http_run for wrk. Every request is
-- POST /rpc/<CALL> with the run's RS256 token, as a PostgREST client sends it.
--   CALL=reserve_capacity  a seat on one of the 100 spread sections (section 0 with HOT=1)
--   CALL=bench_noop        the trivial RPC: the same token, method, headers and a
--                          transaction that runs the pre-request check, and no work
--   CALL=bench_write       the trivial writing RPC: the same, plus one small row
--                          inserted and committed (the floor of a writing request)
--   CALL=bench_row         the floor of a reservation's request: the reservation's body,
--                          the hold row inserted and committed, a row of api.holds back
-- wrk -s bench/http_wrk.lua URL; TOKEN, CALL and HOT come from the environment.
local token = assert(os.getenv("TOKEN"), "TOKEN is not set")
local call = os.getenv("CALL") or "reserve_capacity"
local hot = os.getenv("HOT") == "1"
local pricing = "0b0b0b0b-0000-4000-8000-0000000000f1"

wrk.method = "POST"
wrk.path = "/rpc/" .. call
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Prefer"] = "return=minimal"

function init(args)
    math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function request()
    local body = "{}"
    if call == "reserve_capacity" or call == "bench_row" then
        local s = hot and 0 or math.random(1, 100)
        body = string.format('{"capacity_id":"00000000-0000-4000-8000-%012d","quantity":1,"pricing_id":"%s"}',
                             s, pricing)
    end
    return wrk.format(nil, nil, nil, body)
end

-- One line for bench/http_run: requests/s, latency p50 and p99 (ms), and the
-- requests that failed (socket errors, timeouts, any status other than 2xx/3xx).
function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("RESULT %.1f %.2f %.2f %d\n",
        summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        e.connect + e.read + e.write + e.status + e.timeout))
end
