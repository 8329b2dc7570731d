-- wrk: the soak's mixed load, shaped like real use so histories stay short:
-- each wrk thread starts a conversation, sends 10 messages to it (reading
-- its history after every fourth), then starts the next.
token = os.getenv("TOKEN")
local auth = { ["Authorization"] = "Bearer " .. token }
local json = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
local current, sent, creating = nil, 0, false

function request()
  if current == nil or (sent >= 10 and not creating) then
    creating, sent = true, 0
    return wrk.format("POST", "/conversations?project_id=soak", auth)
  end
  sent = sent + 1
  if sent % 4 == 0 then
    return wrk.format("GET", "/conversations/" .. current .. "/messages", auth)
  end
  return wrk.format("POST", "/conversations/" .. current .. "/messages", json, '{"content":"hello from the soak"}')
end

function response(status, headers, body)
  if status == 201 then
    current = body:match('"id":"([0-9a-f-]+)"') or current
    creating = false
  end
end
