// Routes of /conversations: create, read, delete, list by project.
#include <spdlog/spdlog.h>

#include "chat/chat_service.hpp"
#include "common/ids.hpp"
#include "json_mapping.hpp"
#include "request_bodies.hpp"
#include "routes.hpp"

namespace omnichat {
namespace {

constexpr size_t kMaxProjectIdBytes = 256;

bool validProjectId(const std::string& id) {
    return !id.empty() && id.size() <= kMaxProjectIdBytes && isStorableText(id);
}

}  // namespace

void createConversation(RouteContext& ctx) {
    auto projectId = ctx.request.queryParam("project_id");
    if (!projectId || projectId->empty())
        return ctx.respond->error(400, "missing_project_id", "query parameter project_id is required");
    if (!validProjectId(*projectId))
        return ctx.respond->error(400, "invalid_project_id", "project_id must be 1-256 bytes of text");
    auto body = readJsonObject(ctx, false);
    if (!body) return;
    auto parsed = parseConversationBody(*body);
    if (auto* e = std::get_if<ApiError>(&parsed)) return ctx.respond->error(e->status, e->code, e->message);
    const auto& settings = std::get<domain::ConversationSettings>(parsed);
    if (auto problem = ctx.chat.checkSettings(settings)) return ctx.respond->error(400, "invalid_settings", *problem);
    auto respond = ctx.respond;
    if (!ctx.chat.createConversation(ctx.userId, *projectId, settings,
                                     [respond](domain::Outcome<domain::Conversation> out) {
                                         if (auto* f = std::get_if<domain::Failure>(&out)) return respond->failure(*f);
                                         respond->json(201, toJson(std::get<domain::Conversation>(out)).dump());
                                     }))
        overloaded(ctx);
}

void getConversation(RouteContext& ctx) {
    if (!requireUuidParam(ctx, 0)) return;
    auto respond = ctx.respond;
    if (!ctx.chat.getConversation(ctx.userId, ctx.params[0], [respond](domain::Outcome<domain::Conversation> out) {
            if (auto* f = std::get_if<domain::Failure>(&out)) return respond->failure(*f);
            respond->json(200, toJson(std::get<domain::Conversation>(out)).dump());
        }))
        overloaded(ctx);
}

void deleteConversation(RouteContext& ctx) {
    if (!requireUuidParam(ctx, 0)) return;
    auto respond = ctx.respond;
    if (!ctx.chat.deleteConversation(ctx.userId, ctx.params[0], [respond](domain::Outcome<domain::Done> out) {
            if (auto* f = std::get_if<domain::Failure>(&out)) return respond->failure(*f);
            respond->noContent();
        }))
        overloaded(ctx);
}

void listProjectConversations(RouteContext& ctx) {
    if (!validProjectId(ctx.params[0]))
        return ctx.respond->error(400, "invalid_project_id", "project_id must be 1-256 bytes of text");
    auto respond = ctx.respond;
    if (!ctx.chat.listConversations(
            ctx.userId, ctx.params[0], [respond](domain::Outcome<std::vector<domain::Conversation>> out) {
                if (auto* f = std::get_if<domain::Failure>(&out)) return respond->failure(*f);
                auto list = std::make_shared<const std::vector<domain::Conversation>>(
                    std::move(std::get<std::vector<domain::Conversation>>(out)));
                respond->jsonPieces(200, jsonArrayPieces(list->size(), [list](std::string& json, size_t i) {
                                        json += toJson((*list)[i]).dump();
                                    }));
            }))
        overloaded(ctx);
}

}  // namespace omnichat
