-- Shared by send.lua and history.lua: the conversation ids of $IDS_FILE,
-- the bearer token of $TOKEN, and a random generator seeded per wrk thread.
ids, token = {}, os.getenv("TOKEN")
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local counter = 0
function setup(thread) counter = counter + 1; thread:set("seed", counter) end
function init() math.randomseed(seed * 7919 + os.time()) end
function randomId() return ids[math.random(#ids)] end
