// Routes of /conversations/{id}/messages: read the history, send a message.
#include "chat/chat_service.hpp"
#include "common/ids.hpp"
#include "json_mapping.hpp"
#include "request_bodies.hpp"
#include "routes.hpp"
#include "sse_response.hpp"

namespace omnichat {

void listMessages(RouteContext& ctx) {
    if (!requireUuidParam(ctx, 0)) return;
    int64_t limit = -1;
    if (auto text = ctx.request.queryParam("limit")) {
        try {
            size_t used = 0;
            limit = std::stoll(*text, &used);
            if (used != text->size() || limit < 1 || limit > 10000) throw std::out_of_range("limit");
        } catch (const std::logic_error&) {
            return ctx.respond->error(400, "invalid_limit", "limit must be an integer from 1 to 10000");
        }
    }
    std::string after = ctx.request.queryParam("after").value_or("");
    if (!after.empty() && !isUuid(after))
        return ctx.respond->error(400, "invalid_after", "after must be a message id (UUID)");
    auto respond = ctx.respond;
    if (!ctx.chat.listMessages(
            ctx.userId, ctx.params[0], after, limit, [respond](domain::Outcome<HistoryCache::History> out) {
                if (auto* f = std::get_if<domain::Failure>(&out)) return respond->failure(*f);
                respond->jsonPieces(200, historyJsonPieces(std::move(std::get<HistoryCache::History>(out))));
            }))
        overloaded(ctx);
}

void sendMessage(RouteContext& ctx) {
    if (!requireUuidParam(ctx, 0)) return;
    auto body = readJsonObject(ctx, true);
    if (!body) return;
    auto parsed = parseSendMessageBody(*body);
    if (auto* e = std::get_if<ApiError>(&parsed)) return ctx.respond->error(e->status, e->code, e->message);
    auto& [content, stream] = std::get<SendMessageBody>(parsed);
    if (const auto* accept = ctx.request.header("accept"))
        stream = stream || accept->find("text/event-stream") != std::string::npos;

    auto respond = ctx.respond;
    std::shared_ptr<SseResponse> sse;
    std::shared_ptr<void> streamSlot;
    if (stream) {
        streamSlot = ctx.server.limiter.openStream(ctx.userId);
        if (!streamSlot) return ctx.respond->error(429, "too_many_streams", "too many streams open at once", 1);
        sse = std::make_shared<SseResponse>(respond, ctx.timer, ctx.config.heartbeatMs);
    }
    auto reply = [respond, sse, streamSlot](domain::Outcome<domain::StoredMessage> out) mutable {
        streamSlot.reset();  // the slot is free once the stream ends
        if (sse) return sse->complete(out);
        if (auto* f = std::get_if<domain::Failure>(&out)) return respond->failure(*f);
        respond->json(200, replyJson(std::get<domain::StoredMessage>(out)));
    };
    if (!ctx.chat.sendMessage(ctx.userId, ctx.params[0], std::move(content), sse, std::move(reply),
                              respond->goneCheck()))
        overloaded(ctx);
}

}  // namespace omnichat
