// Header-only C++17 layer over omnichat_plugin.h. It is compiled into each
// plugin, so the ABI stays plain C while plugin authors write ordinary C++:
// classes, std::string, exceptions (caught at every entry point and turned
// into OMNICHAT_ERR_INTERNAL or the category they carry). Nothing declared
// here crosses the boundary.
//
// This header includes the whole layer; each part stands alone:
//   basics.hpp    strings, struct sizes, errors, option declarations
//   host.hpp      the host's services: options, log, clock, HTTP client
//   records.hpp   messages, results, conversations, stored messages
//   provider.hpp  omnichat::Provider, omnichat::Call
//   storage.hpp   omnichat::Storage
//   glue.hpp      the entry points: OMNICHAT_PROVIDER_PLUGIN, OMNICHAT_STORAGE_PLUGIN
#pragma once

#include <omnichat/glue.hpp>
