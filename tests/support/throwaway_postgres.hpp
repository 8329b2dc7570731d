#pragma once
#include <cstdint>
#include <string>

namespace omnichat::testing {

// The database scripts/test.sh starts for the whole run
// (OMNICHAT_TEST_DATABASE_URL); throws when it is not set.
std::string sharedTestDatabaseUrl();

// A PostgreSQL server of a test's own (initdb in a scratch folder, loopback,
// trust auth), for tests that stop and start the database. As root it runs
// as the unprivileged user scripts/test.sh creates, since PostgreSQL refuses
// root.
class ThrowawayPostgres {
public:
    ThrowawayPostgres();
    ~ThrowawayPostgres();
    ThrowawayPostgres(const ThrowawayPostgres&) = delete;
    ThrowawayPostgres& operator=(const ThrowawayPostgres&) = delete;

    std::string url() const;
    void stop();   // fast shutdown: sessions are cut
    void start();  // returns once it accepts connections

private:
    void run(const std::string& command) const;
    std::string bin_, data_;
    uint16_t port_ = 0;
};

}  // namespace omnichat::testing
