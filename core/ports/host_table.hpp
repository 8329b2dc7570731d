#pragma once
#include <omnichat/omnichat_plugin.h>

namespace omnichat {

class HttpClient;

// The table of host services every plugin receives: log, options, calls
// (PluginProviders' callbacks), the HTTP client, the clock. The HTTP client
// is attached once at startup, before any plugin instance is created, and
// detached after the last one is destroyed.
const omnichat_host_api_t* hostTable();
void attachHttpClient(HttpClient* client);

}  // namespace omnichat
