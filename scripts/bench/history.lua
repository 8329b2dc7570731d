-- wrk: GET the history of a random one of the conversations in $IDS_FILE.
local ids, token = {}, os.getenv("TOKEN")
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local counter = 0
function setup(thread) counter = counter + 1; thread:set("seed", counter) end
function init() math.randomseed(seed * 7919 + os.time()) end
function request()
  return wrk.format("GET", "/conversations/" .. ids[math.random(#ids)] .. "/messages",
    { ["Authorization"] = "Bearer " .. token })
end
