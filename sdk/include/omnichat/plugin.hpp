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
//   call.hpp      a call's request and omnichat::Call
//   upstream_call.hpp, upstream_errors.hpp
//                 a call carried to an HTTP upstream; failures as categories
//   provider.hpp  omnichat::Provider
//   storage.hpp   omnichat::Storage
//   glue.hpp      the entry points: OMNICHAT_PROVIDER_PLUGIN, OMNICHAT_STORAGE_PLUGIN
// and, included on their own: json_reader.hpp (reading JSON), json_text.hpp
// (writing it), sse.hpp (event streams), utf8.hpp.
#pragma once

#include <omnichat/glue.hpp>
