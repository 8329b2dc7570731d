// Storage on PostgreSQL (Poco Data PostgreSQL).
#include <Poco/Data/DataException.h>
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

std::string percentDecode(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

struct ConnectionParts {
    std::string keywords;  // libpq key=value form
    std::string password;  // to keep out of error messages
};

// Poco splits its connection string on '=' and spaces itself, so a
// postgresql:// URL becomes libpq keywords here. connect_timeout bounds a
// dead host, so requests during an outage fail fast instead of hanging.
ConnectionParts connectionParts(const omnichat::Host& host) {
    std::string url = host.option("url", "");
    auto scheme = url.find("://");
    if (scheme == std::string::npos) throw omnichat::Error(OMNICHAT_ERR_BAD_REQUEST, "url must be postgresql://...");
    std::string rest = url.substr(scheme + 3), query;
    if (auto q = rest.find('?'); q != std::string::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
    }
    std::string authority = rest, database;
    if (auto slash = rest.find('/'); slash != std::string::npos) {
        authority = rest.substr(0, slash);
        database = percentDecode(rest.substr(slash + 1));
    }
    ConnectionParts out;
    auto add = [&](const std::string& k, const std::string& v) {
        if (!v.empty()) out.keywords += k + "=" + v + " ";
    };
    if (auto at = authority.rfind('@'); at != std::string::npos) {
        std::string credentials = authority.substr(0, at);
        authority = authority.substr(at + 1);
        auto colon = credentials.find(':');
        add("user", percentDecode(credentials.substr(0, colon)));
        if (colon != std::string::npos) out.password = percentDecode(credentials.substr(colon + 1));
        add("password", out.password);
    }
    std::string hostName = authority, port;
    auto colon = authority.rfind(':'), bracket = authority.find(']');
    if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
        hostName = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (hostName.size() > 2 && hostName.front() == '[') hostName = hostName.substr(1, hostName.size() - 2);
    add("host", hostName);
    add("port", port);
    add("dbname", database);
    for (size_t start = 0; start < query.size();) {
        size_t end = query.find('&', start);
        if (end == std::string::npos) end = query.size();
        auto pair = query.substr(start, end - start);
        if (auto eq = pair.find('='); eq != std::string::npos)
            add(pair.substr(0, eq), percentDecode(pair.substr(eq + 1)));
        start = end + 1;
    }
    add("connect_timeout", std::to_string(host.intOption("connect_timeout_seconds", 5)));
    return out;
}

// Connection failures, and statements cut by a lost connection (a restarted
// server leaves every pooled session stale), mean "unavailable": retried once
// on a fresh session, then answered with 503.
bool isUnavailable(const Poco::Exception& e) {
    if (dynamic_cast<const Poco::Data::PostgreSQL::ConnectionException*>(&e) ||
        dynamic_cast<const Poco::Data::ConnectionFailedException*>(&e) ||
        dynamic_cast<const Poco::Data::SessionUnavailableException*>(&e))
        return true;
    const std::string text = e.displayText();
    for (const char* lost : {"server closed the connection", "no connection to the server", "terminating connection",
                             "could not receive data from server", "could not send data to server"})
        if (text.find(lost) != std::string::npos) return true;
    return false;
}

omnichat_sql::Dialect postgresDialect() {
    return {"PostgreSQL", true, {"SELECT pg_advisory_xact_lock(7243501)"}, &isUnavailable};
}

class PostgresStorage : public omnichat_sql::PocoSqlStorage {
public:
    explicit PostgresStorage(const omnichat::Host& host) : PostgresStorage(host, connectionParts(host)) {}

private:
    PostgresStorage(const omnichat::Host& host, const ConnectionParts& parts)
        : PocoSqlStorage(host, (Poco::Data::PostgreSQL::Connector::registerConnector(), postgresDialect()),
                         parts.keywords, static_cast<int>(host.intOption("pool_size", 16)), parts.password) {}
};

}  // namespace

OMNICHAT_STORAGE_PLUGIN(PostgresStorage, "postgres", "1.0.0", kOptions)
