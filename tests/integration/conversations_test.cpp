// Conversations end to end: the real binary, real storage, fake upstream.
#include <Poco/Net/StreamSocket.h>

#include <regex>

#include "api_fixture.hpp"

namespace omnichat::testing {
namespace {

const std::regex kIsoMillis(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");

TEST_P(ApiTest, CreateGetListDelete) {
    auto alice = token(user("alice"));
    auto r = call("POST", "/conversations?project_id=proj-1", alice);
    ASSERT_EQ(r.status, 201) << r.body;
    auto c = r.json();
    EXPECT_TRUE(isUuid(c["id"].get<std::string>()));
    EXPECT_EQ(c["project_id"], "proj-1");
    EXPECT_TRUE(std::regex_match(c["created_at"].get<std::string>(), kIsoMillis));
    EXPECT_TRUE(std::regex_match(c["updated_at"].get<std::string>(), kIsoMillis));
    auto id = c["id"].get<std::string>();

    r = call("GET", "/conversations/" + id, alice);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.json()["id"], id);
    EXPECT_EQ(r.json()["user_id"], c["user_id"]);

    auto second = createConversation(alice);
    createConversation(alice, "other-project");
    r = call("GET", "/conversations/project/proj-1", alice);
    ASSERT_EQ(r.status, 200);
    auto list = r.json();
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0]["id"], second);  // newest first
    EXPECT_EQ(list[1]["id"], id);

    ASSERT_EQ(send(alice, id, "hello").status, 200);
    r = call("DELETE", "/conversations/" + id, alice);
    EXPECT_EQ(r.status, 204);
    EXPECT_EQ(call("GET", "/conversations/" + id, alice).status, 404);
    EXPECT_EQ(call("GET", "/conversations/" + id + "/messages", alice).status, 404);
    EXPECT_EQ(call("DELETE", "/conversations/" + id, alice).status, 404);
}

TEST_P(ApiTest, TitleIsOptional) {
    auto alice = token(user("alice"));
    auto r = call("POST", "/conversations?project_id=p", alice, R"({"title":"Trip ✈ plans"})");
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.json()["title"], "Trip ✈ plans");
    EXPECT_EQ(call("POST", "/conversations?project_id=p", alice, R"({"title":5})").status, 400);
}

TEST_P(ApiTest, MissingProjectIdIs400) {
    auto r = call("POST", "/conversations", token(user("alice")));
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.json()["error"]["code"], "missing_project_id");
}

TEST_P(ApiTest, OtherUsersConversationsAreInvisible) {
    auto alice = token(user("alice"));
    auto bob = token(user("bob"));
    auto id = createConversation(alice);
    ASSERT_EQ(send(alice, id, "secret").status, 200);

    EXPECT_EQ(call("GET", "/conversations/" + id, bob).status, 404);
    EXPECT_EQ(call("GET", "/conversations/" + id + "/messages", bob).status, 404);
    EXPECT_EQ(send(bob, id, "let me in").status, 404);
    EXPECT_EQ(call("DELETE", "/conversations/" + id, bob).status, 404);
    auto r = call("GET", "/conversations/project/proj-1", bob);
    ASSERT_EQ(r.status, 200);
    EXPECT_TRUE(r.json().empty());
    // Alice still has everything.
    EXPECT_EQ(history(alice, id).size(), 2u);
}

TEST_P(ApiTest, AuthenticationIsRequiredAndVerified) {
    auto id = newUuid();
    for (const std::string& bad : {std::string(), std::string("garbage"),
                                   JwtAuthenticator("another-secret").mint("alice", 3600, nowUnixMs() / 1000),
                                   JwtAuthenticator(kSecret).mint("alice", -10, nowUnixMs() / 1000)}) {
        auto r = call("GET", "/conversations/" + id, bad);
        EXPECT_EQ(r.status, 401) << bad;
        EXPECT_EQ(r.headers["www-authenticate"], "Bearer");
        EXPECT_EQ(r.json()["error"]["code"], "unauthorized");
    }
}

TEST_P(ApiTest, UnknownRouteAndWrongMethod) {
    auto alice = token(user("alice"));
    auto r = call("GET", "/nothing/here", alice);
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.json()["error"]["code"], "not_found");
    r = call("PUT", "/conversations/" + newUuid(), alice, "{}");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.json()["error"]["code"], "method_not_allowed");
}

TEST_P(ApiTest, NonUuidIdIs400) {
    auto r = call("GET", "/conversations/not-a-uuid", token(user("alice")));
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.json()["error"]["code"], "invalid_id");
}

// HTTP/1.1 clients that send no Connection header (curl, most libraries)
// must be able to reuse the connection.
TEST_P(ApiTest, KeepsHttp11ConnectionsAlive) {
    Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", server_->port()));
    socket.setReceiveTimeout(Poco::Timespan(10, 0));
    const std::string request = "GET /nothing HTTP/1.1\r\nHost: localhost\r\n\r\n";
    for (int i = 0; i < 2; ++i) {
        socket.sendBytes(request.data(), static_cast<int>(request.size()));
        std::string response;
        char buf[1024];
        while (response.find("}}") == std::string::npos) {
            int n = socket.receiveBytes(buf, sizeof buf);
            ASSERT_GT(n, 0) << "connection closed after " << i << " responses";
            response.append(buf, static_cast<size_t>(n));
        }
        EXPECT_NE(response.find("Connection: Keep-Alive"), std::string::npos) << response;
    }
}

// A client that sends Connection: close gets its whole answer, then the end
// of the connection, without having to close it itself.
TEST_P(ApiTest, ConnectionCloseEndsTheConnectionAfterTheResponse) {
    Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", server_->port()));
    socket.setReceiveTimeout(Poco::Timespan(10, 0));
    const std::string request =
        "POST /conversations?project_id=p1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Authorization: Bearer " +
        token(user("alice")) + "\r\nContent-Length: 0\r\n\r\n";
    socket.sendBytes(request.data(), static_cast<int>(request.size()));
    std::string response;
    char buf[1024];
    try {
        for (int n; (n = socket.receiveBytes(buf, sizeof buf)) > 0;) response.append(buf, static_cast<size_t>(n));
    } catch (const Poco::TimeoutException&) {
        FAIL() << "the connection stayed open after the response:\n" << response;
    }
    EXPECT_EQ(response.rfind("HTTP/1.1 201 Created\r\n", 0), 0u) << response;
    EXPECT_NE(response.find("Connection: Close\r\n"), std::string::npos) << response;
    auto body = response.substr(response.find("\r\n\r\n") + 4);
    EXPECT_TRUE(nlohmann::json::parse(body).contains("id")) << response;
}

}  // namespace
}  // namespace omnichat::testing
