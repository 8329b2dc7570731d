#include "throwaway_postgres.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "http.hpp"
#include "server_process.hpp"

namespace omnichat::testing {
namespace {

constexpr const char* kUnprivilegedUser = "omnichat-test";

std::string newestPostgresBin() {
    std::vector<std::string> found;
    for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql"))
        if (std::filesystem::exists(entry.path() / "bin" / "pg_ctl")) found.push_back(entry.path() / "bin");
    if (found.empty()) throw std::runtime_error("no PostgreSQL server in /usr/lib/postgresql");
    std::sort(found.begin(), found.end(), [](const std::string& a, const std::string& b) {
        return a.size() != b.size() ? a.size() < b.size() : a < b;
    });
    return found.back();
}

}  // namespace

std::string sharedTestDatabaseUrl() {
    const char* url = std::getenv("OMNICHAT_TEST_DATABASE_URL");
    if (!url || !*url)
        throw std::runtime_error("OMNICHAT_TEST_DATABASE_URL is not set: run the tests through scripts/test.sh");
    return url;
}

ThrowawayPostgres::ThrowawayPostgres() : bin_(newestPostgresBin()), data_(makeScratchFolder()), port_(freePort()) {
    if (geteuid() == 0) {
        passwd* pw = getpwnam(kUnprivilegedUser);
        if (!pw)
            throw std::runtime_error(std::string("user ") + kUnprivilegedUser + " is missing: run scripts/test.sh");
        if (chown(data_.c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("cannot chown " + data_);
    }
    run(bin_ + "/initdb -D " + data_ + "/db -U omnichat --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null");
    start();
    run(bin_ + "/createdb -h 127.0.0.1 -p " + std::to_string(port_) + " -U omnichat omnichat_test");
}

ThrowawayPostgres::~ThrowawayPostgres() {
    try {
        run(bin_ + "/pg_ctl -D " + data_ + "/db -m immediate stop >/dev/null 2>&1 || true");
    } catch (...) {
    }
    std::filesystem::remove_all(data_);
}

std::string ThrowawayPostgres::url() const {
    return "postgresql://omnichat@127.0.0.1:" + std::to_string(port_) + "/omnichat_test";
}

void ThrowawayPostgres::stop() { run(bin_ + "/pg_ctl -D " + data_ + "/db -m fast -w stop >/dev/null"); }

void ThrowawayPostgres::start() {
    run(bin_ + "/pg_ctl -D " + data_ + "/db -w -l " + data_ + "/server.log -o \"-p " + std::to_string(port_) +
        " -c listen_addresses=127.0.0.1 -k " + data_ + "\" start >/dev/null");
}

void ThrowawayPostgres::run(const std::string& command) const {
    std::string line =
        geteuid() == 0 ? std::string("runuser -u ") + kUnprivilegedUser + " -- sh -c '" + command + "'" : command;
    if (std::system(line.c_str()) != 0) throw std::runtime_error("failed: " + command);
}

}  // namespace omnichat::testing
