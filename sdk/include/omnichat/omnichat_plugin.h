/*
 * omnichat plugin ABI.
 *
 * This header is the whole contract between the omnichat host and its plugins.
 * It is C99 and depends only on <stdint.h>, <stddef.h> and <stdbool.h>, so a
 * plugin may be built with any compiler that speaks the platform's C ABI.
 *
 * Rules that keep old plugins working with new hosts (and the reverse):
 *  - Every struct begins with `uint32_t struct_size`, set by whoever fills it
 *    to sizeof of the struct it was compiled against. A reader only touches
 *    fields that lie entirely within struct_size; the host copies what a plugin
 *    hands it into a zeroed struct of its own, so missing (newer) fields read
 *    as zero.
 *  - Structs and function tables only ever grow at the end. A changed
 *    signature becomes `name_v2` beside `name`; nothing is removed within a
 *    major version.
 *  - Strings cross as omnichat_str_t (pointer + length, not NUL terminated,
 *    may hold any bytes). Arrays of versioned structs cross as arrays of
 *    pointers, so an old reader never steps with the wrong sizeof.
 *  - No C++ type, exception or allocation crosses the boundary: memory is
 *    always freed by the side that allocated it.
 *
 * Each function documents OWNERSHIP (who frees what, how long a pointer stays
 * valid) and THREADING (from which threads it may be called).
 *
 * Naming: `omnichat_*_vtable_t` members are hooks a plugin implements and the
 * host calls; members of omnichat_host_api_t are callbacks the host implements
 * and a plugin calls.
 */
#ifndef OMNICHAT_PLUGIN_H
#define OMNICHAT_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A host loads a plugin when the majors are equal and the plugin's minor is
 * not newer than its own. Minor bumps only append fields and functions. */
#define OMNICHAT_ABI_MAJOR 1
#define OMNICHAT_ABI_MINOR 7
#define OMNICHAT_ABI_VERSION ((uint32_t)((OMNICHAT_ABI_MAJOR << 16) | OMNICHAT_ABI_MINOR))

#if defined(_WIN32)
#define OMNICHAT_EXPORT __declspec(dllexport)
#else
#define OMNICHAT_EXPORT __attribute__((visibility("default")))
#endif

/* Borrowed bytes. `data` may be NULL when `len` is 0. */
typedef struct omnichat_str {
    const char* data;
    size_t len;
} omnichat_str_t;

/* ------------------------------------------------------------------------ */
/* Status and errors                                                        */
/* ------------------------------------------------------------------------ */

/* Outcome categories. Core's retry, fallback and HTTP status mapping read only
 * the category, never a plugin's message text. Values are stable. */
typedef enum omnichat_status {
    OMNICHAT_OK = 0,
    OMNICHAT_ERR_CANCELLED = 1,
    OMNICHAT_ERR_TIMEOUT = 2,
    OMNICHAT_ERR_RATE_LIMITED = 3,
    OMNICHAT_ERR_AUTH = 4,
    OMNICHAT_ERR_BAD_REQUEST = 5,
    OMNICHAT_ERR_NOT_FOUND = 6,
    OMNICHAT_ERR_CONTENT_FILTERED = 7,
    OMNICHAT_ERR_UPSTREAM = 8,
    OMNICHAT_ERR_UNAVAILABLE = 9,
    OMNICHAT_ERR_UNSUPPORTED = 10,
    OMNICHAT_ERR_INTERNAL = 11,
    OMNICHAT_ERR_BAD_RESPONSE = 12,
    OMNICHAT_ERR_CONFLICT = 13,
    /* Since 1.1: the connection to the upstream could not be opened in
     * time (older plugins report OMNICHAT_ERR_TIMEOUT). */
    OMNICHAT_ERR_CONNECT_TIMEOUT = 14
} omnichat_status_t;

#define OMNICHAT_ERROR_MESSAGE_CAPACITY 512

/* Filled by the callee when a function fails.
 * OWNERSHIP: the caller owns the struct; the callee writes into it.
 * `message` is for operators' logs (never shown to API clients), NUL
 * terminated, truncated to fit. */
typedef struct omnichat_error {
    uint32_t struct_size;
    omnichat_status_t status;
    int32_t http_status;    /* upstream HTTP status, 0 when none */
    int64_t retry_after_ms; /* from Retry-After and friends, -1 when none */
    char message[OMNICHAT_ERROR_MESSAGE_CAPACITY];
} omnichat_error_t;

typedef enum omnichat_log_level {
    OMNICHAT_LOG_TRACE = 0,
    OMNICHAT_LOG_DEBUG = 1,
    OMNICHAT_LOG_INFO = 2,
    OMNICHAT_LOG_WARN = 3,
    OMNICHAT_LOG_ERROR = 4
} omnichat_log_level_t;

/* ------------------------------------------------------------------------ */
/* Configuration options a plugin declares                                  */
/* ------------------------------------------------------------------------ */

typedef enum omnichat_option_type {
    OMNICHAT_OPTION_STRING = 0,
    OMNICHAT_OPTION_INT = 1,
    OMNICHAT_OPTION_BOOL = 2,
    /* A string that is never logged (API keys, passwords). */
    OMNICHAT_OPTION_SECRET = 3
} omnichat_option_type_t;

/* One option of a plugin instance's `options:` map. The host rejects keys a
 * plugin does not declare, values of the wrong type and missing required
 * options before the plugin sees them, naming the file and line.
 * OWNERSHIP: static data of the plugin, valid while the library is loaded. */
typedef struct omnichat_option {
    uint32_t struct_size;
    const char* name;
    omnichat_option_type_t type;
    const char* default_value; /* NULL: no default */
    bool required;
    const char* description;
    /* Since 1.6. An environment variable that sets this option, over YAML,
     * for the instance named after the plugin (e.g. OPENAI_API_KEY for
     * providers.openai); a default instance missing from the configuration
     * is started when one of its plugin's variables is set. NULL: none. */
    const char* environment;
} omnichat_option_t;

/* Opaque: the validated options of one plugin instance. Read through
 * omnichat_host_api_t.config_get. */
typedef struct omnichat_config omnichat_config_t;

/* ------------------------------------------------------------------------ */
/* Chat: what a provider receives and reports                               */
/* ------------------------------------------------------------------------ */

typedef enum omnichat_role {
    OMNICHAT_ROLE_SYSTEM = 0,
    OMNICHAT_ROLE_USER = 1,
    OMNICHAT_ROLE_ASSISTANT = 2
} omnichat_role_t;

typedef struct omnichat_message {
    uint32_t struct_size;
    omnichat_role_t role;
    omnichat_str_t content;
} omnichat_message_t;

typedef struct omnichat_chat_request {
    uint32_t struct_size;
    omnichat_str_t model;
    const omnichat_message_t* const* messages; /* oldest first */
    size_t message_count;
    /* Optional sampling parameters; has_* false means "provider default". */
    bool has_temperature;
    double temperature;
    bool has_max_tokens;
    int64_t max_tokens;
    /* Absolute deadline (Unix epoch milliseconds); 0 when none. */
    int64_t deadline_unix_ms;
    /* True when the client consumes deltas as they arrive. A plugin may
     * stream from the upstream either way; the host collects deltas when
     * this is false. */
    bool stream;
    /* Since 1.1. Time allowed to open the upstream connection; 0: the
     * plugin's own setting. */
    int64_t connect_timeout_ms;
    /* Since 1.7. More of what the client asked, all optional: has_* false,
     * an empty list or an empty string means "provider default". A host
     * before 1.7 sends none of them: read them only when struct_size holds
     * them (OMNICHAT_HOLDS in C++). A provider that cannot honour one may
     * ignore it. OWNERSHIP: borrowed like `messages`, until start_chat
     * returns. */
    bool has_top_p;
    double top_p;
    const omnichat_str_t* stop; /* stop sequences */
    size_t stop_count;
    bool has_seed;
    int64_t seed;
    /* OpenAI's response_format as JSON text, e.g. {"type":"json_object"};
     * empty: plain text. */
    omnichat_str_t response_format;
    /* The end user as the client names them (OpenAI's `user`), for the
     * provider's abuse monitoring; empty when the client named none. */
    omnichat_str_t end_user;
} omnichat_chat_request_t;

typedef struct omnichat_usage {
    uint32_t struct_size;
    int64_t prompt_tokens;     /* -1 when not reported */
    int64_t completion_tokens; /* -1 when not reported */
    int64_t cached_tokens;     /* -1 when not reported */
    int64_t reasoning_tokens;  /* -1 when not reported */
    bool has_cost;
    double cost; /* in the provider's billing currency */
} omnichat_usage_t;

typedef struct omnichat_chat_result {
    uint32_t struct_size;
    omnichat_str_t finish_reason; /* "stop", "length", "content_filter", ... */
    omnichat_str_t model;         /* the model that answered, when reported */
    omnichat_usage_t usage;
} omnichat_chat_result_t;

/* Opaque: one chat call, owned by the host. Valid from start_chat until the
 * plugin's call to call_complete returns; never touch it afterwards. */
typedef struct omnichat_call omnichat_call_t;

/* ------------------------------------------------------------------------ */
/* HTTP client offered by the host                                          */
/* ------------------------------------------------------------------------ */

/* A frozen pair: this struct will never grow, so arrays of it are safe. */
typedef struct omnichat_http_header {
    omnichat_str_t name;
    omnichat_str_t value;
} omnichat_http_header_t;

typedef struct omnichat_http_request {
    uint32_t struct_size;
    omnichat_str_t method; /* "GET", "POST", ... */
    omnichat_str_t url;    /* http:// or https:// (TLS verified, always) */
    const omnichat_http_header_t* headers;
    size_t header_count;
    omnichat_str_t body;
    int64_t connect_timeout_ms; /* 0: host default */
    int64_t total_timeout_ms;   /* 0: host default */
} omnichat_http_request_t;

typedef enum omnichat_http_transport {
    OMNICHAT_HTTP_OK = 0, /* a response arrived (any status) */
    OMNICHAT_HTTP_TIMEOUT = 1,
    OMNICHAT_HTTP_CONNECT_FAILED = 2,
    OMNICHAT_HTTP_TLS_FAILED = 3,
    OMNICHAT_HTTP_CANCELLED = 4,
    OMNICHAT_HTTP_FAILED = 5, /* reset, malformed response, ... */
    /* Since 1.1: connect_timeout_ms passed before a connection was open
     * (older hosts report OMNICHAT_HTTP_TIMEOUT). */
    OMNICHAT_HTTP_CONNECT_TIMEOUT = 6
} omnichat_http_transport_t;

typedef struct omnichat_http_outcome {
    uint32_t struct_size;
    omnichat_http_transport_t transport;
    int32_t status;      /* HTTP status when transport is OK */
    const char* message; /* NUL terminated, for logs */
} omnichat_http_outcome_t;

/* Callbacks for one HTTP exchange, all invoked on the host's I/O thread, one
 * at a time, never after on_complete. They must not block.
 * OWNERSHIP: every pointer passed to a callback is borrowed for the duration
 * of that call only. */
typedef struct omnichat_http_callbacks {
    uint32_t struct_size;
    /* Optional. Once, before the first body chunk, with the final status
     * and the response headers. */
    void (*on_headers)(void* user_data, int32_t status, const omnichat_http_header_t* headers, size_t header_count);
    /* Optional. Each body chunk as it arrives. Return false to abort the
     * exchange (on_complete then reports CANCELLED). */
    bool (*on_body)(void* user_data, omnichat_str_t chunk);
    /* Required. Exactly once, last. */
    void (*on_complete)(void* user_data, const omnichat_http_outcome_t* outcome);
} omnichat_http_callbacks_t;

typedef struct omnichat_http_exchange omnichat_http_exchange_t;

/* ------------------------------------------------------------------------ */
/* Storage records                                                          */
/* ------------------------------------------------------------------------ */

/* Ids (UUID text) and timestamps (Unix epoch milliseconds, UTC) are made by
 * the host, so every backend stores exactly the same values. */
typedef struct omnichat_conversation {
    uint32_t struct_size;
    omnichat_str_t id;
    omnichat_str_t project_id;
    omnichat_str_t user_id;
    bool has_title;
    omnichat_str_t title;
    int64_t created_at_ms;
    int64_t updated_at_ms;
    /* Since 1.1. The conversation's own choices; empty: the service's. */
    omnichat_str_t provider;
    omnichat_str_t model;
    omnichat_str_t system_prompt;
    /* Since 1.1. Totals the storage keeps as exchanges are appended
     * (ignored by conversation_create). */
    int64_t message_count;
    int64_t prompt_tokens;
    int64_t completion_tokens;
    double cost;
} omnichat_conversation_t;

typedef struct omnichat_stored_message {
    uint32_t struct_size;
    omnichat_str_t id;
    omnichat_str_t conversation_id;
    omnichat_role_t role;
    omnichat_str_t content;
    int64_t created_at_ms;
    /* Assistant messages: who answered and how. Empty for user messages. */
    omnichat_str_t provider;
    omnichat_str_t model;
    omnichat_str_t finish_reason;
    int64_t prompt_tokens;     /* -1 when unknown */
    int64_t completion_tokens; /* -1 when unknown */
    int64_t latency_ms;        /* -1 when unknown */
    /* Since 1.1. */
    int64_t cached_tokens;    /* -1 when unknown */
    int64_t reasoning_tokens; /* -1 when unknown */
    bool has_cost;
    double cost; /* as the provider reported it */
} omnichat_stored_message_t;

/* Row sinks: called once per row, in order, on the calling thread.
 * OWNERSHIP: the record and everything it points to are borrowed for the
 * duration of the call; copy what you keep. */
typedef void (*omnichat_conversation_sink_t)(void* user_data, const omnichat_conversation_t* conversation);
typedef void (*omnichat_message_sink_t)(void* user_data, const omnichat_stored_message_t* message);

/* ------------------------------------------------------------------------ */
/* The host's table of services                                             */
/* ------------------------------------------------------------------------ */

typedef struct omnichat_host_api {
    uint32_t struct_size;
    uint32_t abi_version; /* the host's OMNICHAT_ABI_VERSION */

    /* Cheap check to skip building a message nobody will see.
     * THREADING: any thread. */
    bool (*log_enabled)(omnichat_log_level_t level);
    /* OWNERSHIP: `message` is borrowed for the call. Never pass secrets or
     * message content. THREADING: any thread. */
    void (*log)(omnichat_log_level_t level, omnichat_str_t message);

    /* Looks up a declared option of this instance; declared defaults apply.
     * Returns false when the option is unset and has no default.
     * OWNERSHIP: `out` points into host memory valid as long as `config`,
     * i.e. until the instance's destroy hook returns.
     * THREADING: any thread. */
    bool (*config_get)(const omnichat_config_t* config, const char* name, omnichat_str_t* out);

    /* Reports a piece of reply text. Returns false when the call has been
     * cancelled (client gone, deadline passed): stop and complete with
     * OMNICHAT_ERR_CANCELLED. The reply must be UTF-8, but a piece may end
     * inside a character: the host passes on whole characters only. A reply
     * that is not UTF-8 fails as BAD_RESPONSE and is not stored.
     * OWNERSHIP: `text` is copied before returning.
     * THREADING: any thread, but not concurrently for one call. */
    bool (*call_emit_delta)(omnichat_call_t* call, omnichat_str_t text);
    /* Ends the call, exactly once. `error` NULL or status OK means success
     * with `result`; otherwise `result` may be NULL.
     * OWNERSHIP: both are copied before returning; `call` is invalid after.
     * THREADING: any thread. */
    void (*call_complete)(omnichat_call_t* call, const omnichat_chat_result_t* result, const omnichat_error_t* error);
    /* THREADING: any thread. */
    bool (*call_is_cancelled)(const omnichat_call_t* call);

    /* Starts an HTTP exchange and returns at once; `callbacks` then run on
     * the host's I/O thread. Returns NULL (and no callback runs) when the
     * request is invalid or the host is shutting down.
     * OWNERSHIP: `request` and everything it points to are copied before
     * returning. `callbacks` must stay valid (static storage is typical) and
     * `user_data` must stay valid until on_complete has returned. The
     * returned handle belongs to the host and is valid until on_complete
     * has returned (a cancel while on_complete runs does nothing).
     * THREADING: any thread. */
    omnichat_http_exchange_t* (*http_start)(const omnichat_http_request_t* request,
                                            const omnichat_http_callbacks_t* callbacks, void* user_data);
    /* Asks the host to abort an exchange; on_complete follows with
     * CANCELLED unless it already began. THREADING: any thread, only while
     * the handle is valid. */
    void (*http_cancel)(omnichat_http_exchange_t* exchange);

    /* Wall clock, Unix epoch milliseconds. THREADING: any thread. */
    int64_t (*now_unix_ms)(void);
} omnichat_host_api_t;

/* ------------------------------------------------------------------------ */
/* Hooks a plugin implements                                                */
/* ------------------------------------------------------------------------ */

typedef struct omnichat_provider_vtable {
    uint32_t struct_size;
    /* Makes one configured instance. On failure returns non-OK, fills
     * `error` and leaves *instance unset.
     * OWNERSHIP: `host` and `config` outlive the instance. THREADING: main
     * thread at startup. */
    omnichat_status_t (*create)(const omnichat_host_api_t* host, const omnichat_config_t* config, void** instance,
                                omnichat_error_t* error);
    /* The host calls it after every call of the instance has completed.
     * THREADING: main thread at shutdown. */
    void (*destroy)(void* instance);
    /* Starts a chat call and returns at once. The plugin reports through
     * call_emit_delta and finishes with call_complete, exactly once, from
     * any thread (possibly before start_chat returns).
     * OWNERSHIP: `request` and everything it points to are valid only
     * until start_chat returns: copy what the call needs later. `call`
     * belongs to the host. THREADING: any thread, concurrently.
     * ERRORS: nothing may be thrown across it. If a C++ exception comes
     * through anyway, the host completes the call as failed with
     * OMNICHAT_ERR_INTERNAL (the client gets 502 provider_error), unless it
     * was completed before the throw; `call` is then invalid. */
    void (*start_chat)(void* instance, const omnichat_chat_request_t* request, omnichat_call_t* call);
    /* Optional (may be NULL). Asks the plugin to abandon a call (client
     * gone, a timeout in the host); the plugin still completes it, usually
     * with OMNICHAT_ERR_CANCELLED. The host never calls it once call_complete
     * for `call` has begun. It must not block; it may complete the call
     * before returning. THREADING: any thread. */
    void (*cancel_chat)(void* instance, omnichat_call_t* call);
} omnichat_provider_vtable_t;

/* Since 1.3. A storage instance's connections, for the host's metrics.
 * The host sets struct_size and -1 in every count before it asks; a count
 * the plugin does not keep stays -1. */
typedef struct omnichat_storage_stats {
    uint32_t struct_size;
    int64_t connections_open;   /* held by the instance, idle or in use */
    int64_t connections_in_use; /* lent to a hook right now */
    int64_t connection_waits;   /* since creation: hooks that waited for a free one */
} omnichat_storage_stats_t;

/* Chat-domain storage. Every hook may block (core runs them on a bounded
 * worker pool) and must be safe to call concurrently. Each returns OK or
 * fills `error`: NOT_FOUND for a missing (or not owned) record, UNAVAILABLE
 * when the database cannot be reached or is overloaded, BAD_REQUEST for
 * content it cannot store faithfully, INTERNAL otherwise.
 * OWNERSHIP: every input is borrowed for the call. */
typedef struct omnichat_storage_vtable {
    uint32_t struct_size;
    omnichat_status_t (*create)(const omnichat_host_api_t* host, const omnichat_config_t* config, void** instance,
                                omnichat_error_t* error);
    void (*destroy)(void* instance);
    /* Creates or upgrades the schema. Safe when several hosts start at once
     * against one database. */
    omnichat_status_t (*migrate)(void* instance, omnichat_error_t* error);
    /* Cheap reachability check. */
    omnichat_status_t (*ping)(void* instance, omnichat_error_t* error);

    omnichat_status_t (*conversation_create)(void* instance, const omnichat_conversation_t* conversation,
                                             omnichat_error_t* error);
    /* Calls `sink` once when conversation `id` exists and belongs to
     * `user_id`; NOT_FOUND otherwise. */
    omnichat_status_t (*conversation_get)(void* instance, omnichat_str_t id, omnichat_str_t user_id,
                                          omnichat_conversation_sink_t sink, void* user_data, omnichat_error_t* error);
    /* The user's conversations in a project, newest first. */
    omnichat_status_t (*conversation_list)(void* instance, omnichat_str_t user_id, omnichat_str_t project_id,
                                           omnichat_conversation_sink_t sink, void* user_data, omnichat_error_t* error);
    /* Deletes the conversation and its messages; NOT_FOUND as for get. */
    omnichat_status_t (*conversation_delete)(void* instance, omnichat_str_t id, omnichat_str_t user_id,
                                             omnichat_error_t* error);
    /* Messages of a conversation owned by `user_id`, oldest first, strictly
     * after message `after_id` (empty: from the start), at most `limit`
     * (negative: all). NOT_FOUND when the conversation is not the user's or
     * `after_id` is not one of its messages. */
    omnichat_status_t (*messages_list)(void* instance, omnichat_str_t conversation_id, omnichat_str_t user_id,
                                       omnichat_str_t after_id, int64_t limit, omnichat_message_sink_t sink,
                                       void* user_data, omnichat_error_t* error);
    /* Appends a user message and its reply as one transaction, adjacent in
     * the history even when other hosts append to the same conversation at
     * the same time, touches the conversation's updated_at and adds the
     * reply's tokens and cost to its totals. NOT_FOUND when the
     * conversation is gone. Since 1.6, timestamps follow the history: an
     * exchange appended after another whose reply is no earlier than this
     * one's (a slower host, or a send that finished first but appended
     * later) is stored with its user message at that reply's time and its
     * reply one millisecond later, so created_at never goes backwards in
     * history order; the conversation's updated_at is the last reply's. */
    omnichat_status_t (*exchange_append)(void* instance, const omnichat_stored_message_t* user,
                                         const omnichat_stored_message_t* assistant, omnichat_error_t* error);
    /* Since 1.2; optional (NULL, or absent from a smaller struct_size: the
     * host calls conversation_get, then messages_list). What a send needs
     * before it calls the provider, in one call so a database can answer it
     * in one round trip: `conversation_sink` once for conversation `id` of
     * `user_id`, then `message_sink` for each of its messages, oldest first.
     * NOT_FOUND as for conversation_get. */
    omnichat_status_t (*conversation_load)(void* instance, omnichat_str_t id, omnichat_str_t user_id,
                                           omnichat_conversation_sink_t conversation_sink,
                                           omnichat_message_sink_t message_sink, void* user_data,
                                           omnichat_error_t* error);
    /* Since 1.3; optional. Fills the counts of `stats` the plugin keeps; it
     * may read only the fields its own struct_size covers.
     * Must not block (the host calls it whenever /metrics is scraped).
     * OWNERSHIP: `stats` is borrowed for the call. THREADING: any thread. */
    void (*stats)(void* instance, omnichat_storage_stats_t* stats);
    /* Since 1.4; optional. conversation_load for a host that keeps
     * histories in memory: `message_sink` gets only the messages after the
     * first `known_count` of the history, and the conversation's
     * `message_count` says how many there are in all, read in the same
     * snapshot as those messages. A history only ever grows at its end, so
     * the host's first `known_count` messages are still the stored ones.
     * NOT_FOUND as for conversation_get. */
    omnichat_status_t (*conversation_load_since)(void* instance, omnichat_str_t id, omnichat_str_t user_id,
                                                 int64_t known_count, omnichat_conversation_sink_t conversation_sink,
                                                 omnichat_message_sink_t message_sink, void* user_data,
                                                 omnichat_error_t* error);
    /* Since 1.5; optional. exchange_append for a host that called the
     * provider with a history it holds, without reading the conversation
     * first: the append is also the check that the history is still the
     * stored one. Appends only when the conversation has exactly
     * `expected_count` messages and, when that is above 0, the last of them
     * (message number `expected_count`) has id `expected_last_id`; the check
     * and the append are one transaction. Otherwise appends nothing and
     * returns OMNICHAT_ERR_CONFLICT; NOT_FOUND when the conversation is gone.
     * A retry that finds its own exchange already appended returns OK. */
    omnichat_status_t (*exchange_append_if_unchanged)(void* instance, const omnichat_stored_message_t* user,
                                                      const omnichat_stored_message_t* assistant,
                                                      int64_t expected_count, omnichat_str_t expected_last_id,
                                                      omnichat_error_t* error);
    /* Since 1.6; optional. How many conversations `user_id` owns, in all
     * projects, into *count. The host caps conversations per user with it
     * (limits.max_conversations_per_user); without it that cap is not
     * enforced. OWNERSHIP: `count` is the host's, written before returning
     * OK. */
    omnichat_status_t (*conversation_count)(void* instance, omnichat_str_t user_id, int64_t* count,
                                            omnichat_error_t* error);
} omnichat_storage_vtable_t;

typedef enum omnichat_plugin_kind { OMNICHAT_PLUGIN_PROVIDER = 1, OMNICHAT_PLUGIN_STORAGE = 2 } omnichat_plugin_kind_t;

/* OWNERSHIP: static data of the plugin, valid while the library is loaded. */
typedef struct omnichat_plugin_descriptor {
    uint32_t struct_size;
    uint32_t abi_version; /* OMNICHAT_ABI_VERSION the plugin was built against */
    const char* name;
    const char* version;
    omnichat_plugin_kind_t kind;
    const omnichat_option_t* const* options;
    size_t option_count;
    const omnichat_provider_vtable_t* provider; /* when kind is PROVIDER */
    const omnichat_storage_vtable_t* storage;   /* when kind is STORAGE */
} omnichat_plugin_descriptor_t;

/* ------------------------------------------------------------------------ */
/* Entry points every plugin exports                                        */
/* ------------------------------------------------------------------------ */

/* Called first, before anything else; must not have side effects.
 * Returns OMNICHAT_ABI_VERSION as the plugin was compiled. */
typedef uint32_t (*omnichat_plugin_abi_version_fn)(void);
#define OMNICHAT_PLUGIN_ABI_VERSION_SYMBOL "omnichat_plugin_abi_version"

/* Called once after the version check. Returns the plugin's descriptor, or
 * NULL when the plugin cannot work with this host.
 * OWNERSHIP: `host` stays valid until the library is unloaded.
 * THREADING: main thread. */
typedef const omnichat_plugin_descriptor_t* (*omnichat_plugin_init_fn)(const omnichat_host_api_t* host);
#define OMNICHAT_PLUGIN_INIT_SYMBOL "omnichat_plugin_init"

#ifdef __cplusplus
}
#endif

#endif /* OMNICHAT_PLUGIN_H */
