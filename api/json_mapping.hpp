#pragma once
#include <omnichat/plugin.hpp>

#include <nlohmann/json.hpp>

namespace omnichat {

nlohmann::json toJson(const Conversation& c);
nlohmann::json toJson(const StoredMessage& m);

}  // namespace omnichat
