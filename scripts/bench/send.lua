-- wrk: POST a message to a random one of the conversations in $IDS_FILE.
dofile("scripts/bench/ids.lua")
function request()
  return wrk.format("POST", "/conversations/" .. randomId() .. "/messages",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" },
    '{"content":"hello from the benchmark"}')
end
