#pragma once
#include <omnichat/omnichat_plugin.h>

#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.hpp"

struct omnichat_config;

namespace omnichat {

// A plugin that cannot be used, worded for one line: "<file>: <reason>".
class PluginError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// An instance lacks a required option (an API key not given): it cannot
// start, but its configuration is not wrong.
class MissingOptionError : public ConfigError {
public:
    using ConfigError::ConfigError;
};

struct OptionSpec {
    std::string name;
    omnichat_option_type_t type;
    std::optional<std::string> defaultValue;
    bool required;
    std::string description;
    std::string environment;  // the variable that sets it (ABI 1.6), if any
};

// One loaded shared library and what it declared. Everything a plugin
// creates holds a shared_ptr to this, so the library is unmapped only after
// the last such object is gone.
class PluginLibrary {
public:
    ~PluginLibrary();
    const std::string& path() const { return path_; }
    const std::string& name() const { return name_; }
    omnichat_plugin_kind_t kind() const { return kind_; }
    const std::vector<OptionSpec>& options() const { return options_; }
    // Host-side copies, zero-filled past what the plugin's version provides.
    const omnichat_provider_vtable_t& provider() const { return provider_; }
    const omnichat_storage_vtable_t& storage() const { return storage_; }
    // The host table its instances get (the one it was initialized with).
    const omnichat_host_api_t* host() const { return host_; }

private:
    friend std::shared_ptr<PluginLibrary> loadPlugin(const std::string&, const omnichat_host_api_t*);
    std::shared_ptr<void> handle_;
    std::string path_, name_;
    omnichat_plugin_kind_t kind_{};
    std::vector<OptionSpec> options_;
    omnichat_provider_vtable_t provider_{};
    omnichat_storage_vtable_t storage_{};
    const omnichat_host_api_t* host_ = nullptr;
};

// The file of plugin `name`: `name` itself when it is a path (holds a
// '/'), else the first `<directory>/libomnichat-<name>.so` of `searchPath`.
// Throws PluginError naming the directories searched.
std::string findPlugin(const std::vector<std::string>& searchPath, const std::string& name);

// Loads the plugin file `path`, checks its ABI version and descriptor,
// initializes it with `host` (see ports/host_table.hpp). Throws PluginError
// naming the file and the reason.
std::shared_ptr<PluginLibrary> loadPlugin(const std::string& path, const omnichat_host_api_t* host);

// Checks an instance's options against what the plugin declares and applies
// defaults. Throws ConfigError naming where the bad option was written, or
// MissingOptionError.
std::unique_ptr<omnichat_config> validateOptions(const PluginLibrary& library, const PluginInstanceConfig& instance,
                                                 const std::string& instanceName);

// A created plugin instance. Member order matters: the library is declared
// first so it is released last.
class PluginInstance {
public:
    PluginInstance(std::shared_ptr<PluginLibrary> library, std::unique_ptr<omnichat_config> config,
                   std::string instanceName);
    ~PluginInstance();
    PluginInstance(const PluginInstance&) = delete;
    PluginInstance& operator=(const PluginInstance&) = delete;

    void* handle() const { return instance_; }
    const PluginLibrary& library() const { return *library_; }
    const std::string& name() const { return name_; }
    // A validated option's value (its declared default when not written);
    // nullopt when it has neither.
    std::optional<std::string> option(const std::string& name) const;

private:
    std::shared_ptr<PluginLibrary> library_;
    std::unique_ptr<omnichat_config> config_;
    std::string name_;
    void* instance_ = nullptr;
};

// The plugins found on a search path (see findPlugin), each loaded (and
// initialized) once however many instances use it. Main thread, startup
// only.
class PluginLibraries {
public:
    PluginLibraries(std::vector<std::string> searchPath, const omnichat_host_api_t* host)
        : searchPath_(std::move(searchPath)), host_(host) {}
    PluginLibraries(std::string directory, const omnichat_host_api_t* host)
        : PluginLibraries(std::vector<std::string>{std::move(directory)}, host) {}
    std::shared_ptr<PluginLibrary> get(const std::string& name);
    // Loads the plugin `instance.plugin` of the expected kind, validates
    // the options and creates the instance. Throws PluginError or
    // ConfigError.
    std::unique_ptr<PluginInstance> createInstance(const PluginInstanceConfig& instance,
                                                   const std::string& instanceName, omnichat_plugin_kind_t kind);

private:
    std::vector<std::string> searchPath_;
    const omnichat_host_api_t* host_;
    std::map<std::string, std::shared_ptr<PluginLibrary>> loaded_;
};

}  // namespace omnichat
