-- wrk: GET the history of a random one of the conversations in $IDS_FILE.
dofile("scripts/bench/ids.lua")
function request()
  return wrk.format("GET", "/conversations/" .. randomId() .. "/messages", { ["Authorization"] = "Bearer " .. token })
end
