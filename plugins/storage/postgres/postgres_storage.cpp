// Storage on PostgreSQL (Poco Data PostgreSQL).
#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/PostgreSQL/PostgreSQLException.h>

#include "poco_sql_storage.hpp"

namespace {

const omnichat_option_t kOptions[] = {
    omnichat::option("url", OMNICHAT_OPTION_SECRET, nullptr, true,
                     "postgresql://user:password@host:port/db (or DATABASE_URL)"),
    omnichat::option("pool_size", OMNICHAT_OPTION_INT, "16", false, "Connections kept to the database."),
    omnichat::option("connect_timeout_seconds", OMNICHAT_OPTION_INT, "5", false,
                     "How long one connection attempt may take."),
};

// libpq takes URIs as its connection string; connect_timeout bounds a dead
// host, so requests during an outage fail fast instead of hanging.
std::string connectionString(const omnichat::Host& host) {
    std::string url = host.option("url", "");
    std::string timeout = "connect_timeout=" + std::to_string(host.intOption("connect_timeout_seconds", 5));
    return url + (url.find('?') == std::string::npos ? "?" : "&") + timeout;
}

omnichat_sql::Dialect postgresDialect() {
    return {"PostgreSQL", true, {"SELECT pg_advisory_xact_lock(7243501)"}, [](const Poco::Exception& e) {
                return dynamic_cast<const Poco::Data::PostgreSQL::ConnectionException*>(&e) != nullptr;
            }};
}

class PostgresStorage : public omnichat_sql::PocoSqlStorage {
public:
    explicit PostgresStorage(const omnichat::Host& host)
        : PocoSqlStorage(host, (Poco::Data::PostgreSQL::Connector::registerConnector(), postgresDialect()),
                         connectionString(host), static_cast<int>(host.intOption("pool_size", 16))) {}
};

}  // namespace

OMNICHAT_STORAGE_PLUGIN(PostgresStorage, "postgres", "1.0.0", kOptions)
