// Storage in a SQLite file (Poco Data SQLite): the embedded default.
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>

#include <filesystem>

#include "poco_sql_storage.hpp"

namespace {

const omnichat_option_t kOptions[] = {
    omnichat::option("path", OMNICHAT_OPTION_STRING, "data/omnichat.db", false,
                     "Database file, relative to the working directory (or DATABASE_URL=sqlite:///path)."),
    omnichat::option("pool_size", OMNICHAT_OPTION_INT, "8", false, "Connections kept open."),
};

std::string databasePath(const omnichat::Host& host) {
    std::string path = host.option("path", "data/omnichat.db");
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    return path;
}

omnichat_sql::Dialect sqliteDialect() {
    return {"SQLite", false, {}, [](const Poco::Exception& e) {
                return dynamic_cast<const Poco::Data::SQLite::DBLockedException*>(&e) != nullptr ||
                       dynamic_cast<const Poco::Data::SQLite::TableLockedException*>(&e) != nullptr;
            }};
}

class SqliteStorage : public omnichat_sql::PocoSqlStorage {
public:
    explicit SqliteStorage(const omnichat::Host& host)
        : PocoSqlStorage(host, (Poco::Data::SQLite::Connector::registerConnector(), sqliteDialect()),
                         databasePath(host), static_cast<int>(host.intOption("pool_size", 8))) {
        // WAL lets readers run beside the writer; the mode is stored in
        // the file, so setting it once is enough.
        execute("PRAGMA journal_mode=WAL");
    }
};

}  // namespace

OMNICHAT_STORAGE_PLUGIN(SqliteStorage, "sqlite", "1.0.0", kOptions)
