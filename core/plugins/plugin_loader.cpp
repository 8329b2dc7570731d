#include "plugins/plugin_loader.hpp"

// <vector> before Boost.DLL: a 1.74 header bug.
#include <vector>
#define BOOST_DLL_USE_STD_FS
#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "plugins/plugin_config.hpp"

namespace omnichat {
namespace {

std::string versionText(uint32_t v) { return std::to_string(v >> 16) + "." + std::to_string(v & 0xffff); }

// Copies a plugin-provided struct into a zeroed host struct, honouring the
// plugin's struct_size in both directions. A struct smaller than its 1.0
// layout (`minimum`) is refused by name: read as zeros it would make the
// plugin look like something it is not.
template <class T>
T copyVersioned(const T* from, size_t minimum, const std::string& path, const char* what) {
    T to{};
    if (!from) return to;
    if (from->struct_size < minimum)
        throw PluginError(path + ": " + what + " struct_size is " + std::to_string(from->struct_size) +
                          ", smaller than ABI 1.0's " + std::to_string(minimum) +
                          " bytes (is struct_size set to sizeof the struct?)");
    std::memcpy(&to, from, std::min<size_t>(from->struct_size, sizeof(T)));
    to.struct_size = sizeof(T);
    return to;
}

// The size of each struct a plugin fills, as ABI 1.0 laid it out.
constexpr size_t kDescriptor10 = sizeof(omnichat_plugin_descriptor_t);
constexpr size_t kOption10 = offsetof(omnichat_option_t, environment);
constexpr size_t kProvider10 = sizeof(omnichat_provider_vtable_t);
constexpr size_t kStorage10 = offsetof(omnichat_storage_vtable_t, conversation_load);

bool isInteger(const std::string& s) {
    if (s.empty()) return false;
    size_t i = (s[0] == '-') ? 1 : 0;
    if (i == s.size()) return false;
    for (; i < s.size(); ++i)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

}  // namespace

PluginLibrary::~PluginLibrary() = default;

std::string findPlugin(const std::vector<std::string>& searchPath, const std::string& name) {
    namespace fs = std::filesystem;
    if (name.find('/') != std::string::npos) {
        if (!fs::exists(name)) throw PluginError(name + ": plugin not found (no such file)");
        return name;
    }
    std::string searched;
    for (const auto& directory : searchPath) {
        auto path = (fs::path(directory) / ("libomnichat-" + name + ".so")).string();
        if (fs::exists(path)) return path;
        searched += (searched.empty() ? "" : ", ") + directory;
    }
    throw PluginError("libomnichat-" + name + ".so: plugin '" + name +
                      "' not found (searched: " + (searched.empty() ? std::string("no directory") : searched) + ")");
}

std::shared_ptr<PluginLibrary> loadPlugin(const std::string& path, const omnichat_host_api_t* host) {
    auto lib = std::make_shared<boost::dll::shared_library>();
    try {
        lib->load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    } catch (const std::exception& e) {
        throw PluginError(path + ": cannot be loaded: " + e.what());
    }
    for (const char* symbol : {OMNICHAT_PLUGIN_ABI_VERSION_SYMBOL, OMNICHAT_PLUGIN_INIT_SYMBOL})
        if (!lib->has(symbol)) throw PluginError(path + ": missing entry point " + symbol + "()");

    auto abiVersion = lib->get<uint32_t()>(OMNICHAT_PLUGIN_ABI_VERSION_SYMBOL)();
    if ((abiVersion >> 16) != OMNICHAT_ABI_MAJOR || (abiVersion & 0xffff) > OMNICHAT_ABI_MINOR)
        throw PluginError(path + ": ABI mismatch: plugin built for " + versionText(abiVersion) + ", host supports " +
                          versionText(OMNICHAT_ABI_VERSION) + " (same major, minor up to the host's)");

    const auto* raw =
        lib->get<const omnichat_plugin_descriptor_t*(const omnichat_host_api_t*)>(OMNICHAT_PLUGIN_INIT_SYMBOL)(host);
    if (!raw) throw PluginError(path + ": omnichat_plugin_init() refused to start with this host");
    auto d = copyVersioned(raw, kDescriptor10, path, "the descriptor's");

    auto out = std::shared_ptr<PluginLibrary>(new PluginLibrary());
    out->handle_ = lib;
    out->host_ = host;
    out->path_ = path;
    if (!d.name || !*d.name) throw PluginError(path + ": the descriptor names no plugin");
    out->name_ = d.name;
    out->kind_ = d.kind;
    for (size_t i = 0; i < d.option_count; ++i) {
        auto o = copyVersioned(d.options[i], kOption10, path, ("option " + std::to_string(i) + "'s").c_str());
        if (!o.name) throw PluginError(path + ": option " + std::to_string(i) + " has no name");
        out->options_.push_back({o.name, o.type,
                                 o.default_value ? std::optional<std::string>(o.default_value) : std::nullopt,
                                 o.required, o.description ? o.description : "", o.environment ? o.environment : ""});
    }
    if (d.kind == OMNICHAT_PLUGIN_PROVIDER) {
        if (!d.provider) throw PluginError(path + ": provider plugin without a provider table");
        out->provider_ = copyVersioned(d.provider, kProvider10, path, "the provider table's");
        if (!out->provider_.create || !out->provider_.destroy || !out->provider_.start_chat)
            throw PluginError(path + ": provider table lacks create, destroy or start_chat");
    } else if (d.kind == OMNICHAT_PLUGIN_STORAGE) {
        if (!d.storage) throw PluginError(path + ": storage plugin without a storage table");
        out->storage_ = copyVersioned(d.storage, kStorage10, path, "the storage table's");
        const auto& s = out->storage_;
        if (!s.create || !s.destroy || !s.migrate || !s.ping || !s.conversation_create || !s.conversation_get ||
            !s.conversation_list || !s.conversation_delete || !s.messages_list || !s.exchange_append)
            throw PluginError(path + ": storage table lacks a required hook");
    } else {
        throw PluginError(path + ": unknown plugin kind " + std::to_string(d.kind) + " (1: provider, 2: storage)");
    }
    return out;
}

std::unique_ptr<omnichat_config> validateOptions(const PluginLibrary& library, const PluginInstanceConfig& instance,
                                                 const std::string& instanceName) {
    auto config = std::make_unique<omnichat_config>();
    for (const auto& [key, value] : instance.options) {
        auto spec = std::find_if(library.options().begin(), library.options().end(),
                                 [&](const OptionSpec& o) { return o.name == key; });
        if (spec == library.options().end()) {
            std::string known;
            for (const auto& o : library.options()) known += (known.empty() ? "" : ", ") + o.name;
            throw ConfigError(value.origin + ": unknown option '" + key + "' for " + instanceName + " (plugin '" +
                              library.name() + "' accepts: " + (known.empty() ? "none" : known) + ")");
        }
        if (spec->type == OMNICHAT_OPTION_INT && !isInteger(value.value))
            throw ConfigError(value.origin + ": option '" + key + "' of " + instanceName + " must be an integer");
        if (spec->type == OMNICHAT_OPTION_BOOL && value.value != "true" && value.value != "false")
            throw ConfigError(value.origin + ": option '" + key + "' of " + instanceName + " must be true or false");
        config->values[key] = value.value;
    }
    for (const auto& o : library.options()) {
        if (config->values.count(o.name)) continue;
        if (o.defaultValue)
            config->values[o.name] = *o.defaultValue;
        else if (o.required)
            throw MissingOptionError(instance.origin + ": " + instanceName + " needs option '" + o.name + "' (" +
                                     o.description + (o.environment.empty() ? "" : "; or set " + o.environment) + ")");
    }
    return config;
}

std::optional<std::string> PluginInstance::option(const std::string& name) const {
    auto it = config_->values.find(name);
    if (it == config_->values.end()) return std::nullopt;
    return it->second;
}

PluginInstance::PluginInstance(std::shared_ptr<PluginLibrary> library, std::unique_ptr<omnichat_config> config,
                               std::string instanceName)
    : library_(std::move(library)), config_(std::move(config)), name_(std::move(instanceName)) {
    omnichat_error_t error{};
    error.struct_size = sizeof error;
    auto create =
        library_->kind() == OMNICHAT_PLUGIN_PROVIDER ? library_->provider().create : library_->storage().create;
    if (create(library_->host(), config_.get(), &instance_, &error) != OMNICHAT_OK || !instance_)
        throw PluginError(library_->path() + ": cannot create " + name_ + ": " +
                          std::string(error.message, strnlen(error.message, sizeof error.message)));
}

PluginInstance::~PluginInstance() {
    auto destroy =
        library_->kind() == OMNICHAT_PLUGIN_PROVIDER ? library_->provider().destroy : library_->storage().destroy;
    destroy(instance_);
}

std::shared_ptr<PluginLibrary> PluginLibraries::get(const std::string& name) {
    auto& library = loaded_[name];
    if (!library) library = loadPlugin(findPlugin(searchPath_, name), host_);
    return library;
}

std::unique_ptr<PluginInstance> PluginLibraries::createInstance(const PluginInstanceConfig& instance,
                                                                const std::string& instanceName,
                                                                omnichat_plugin_kind_t kind) {
    auto library = get(instance.plugin);
    if (library->kind() != kind)
        throw PluginError(library->path() + ": " + instanceName + " needs a " +
                          (kind == OMNICHAT_PLUGIN_PROVIDER ? "provider" : "storage") + " plugin");
    auto config = validateOptions(*library, instance, instanceName);
    return std::make_unique<PluginInstance>(std::move(library), std::move(config), instanceName);
}

}  // namespace omnichat
