// Unauthenticated clients that never finish a request: opens COUNT
// connections, sends each the first BYTES of a request head (a request line
// and filler headers, no end), prints "ready" once every one is sent, and
// holds them until its standard input closes. What the server holds for
// them is its cost of an attack that needs no token.
//
//   omnichat-partial PORT COUNT BYTES
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: omnichat-partial PORT COUNT BYTES\n");
        return 2;
    }
    const auto port = static_cast<uint16_t>(std::stoi(argv[1]));
    const int count = std::stoi(argv[2]);
    const size_t bytes = std::stoul(argv[3]);
    std::string head = "POST /conversations?project_id=p HTTP/1.1\r\nHost: bench\r\n";
    while (head.size() < bytes) head += "X-Filler: " + std::string(100, 'f') + "\r\n";
    head.resize(bytes);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::vector<int> held;
    for (int i = 0; i < count; ++i) {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            ::send(fd, head.data(), head.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(head.size())) {
            std::fprintf(stderr, "connection %d failed\n", i);
            return 1;
        }
        held.push_back(fd);
    }
    std::printf("ready\n");
    std::fflush(stdout);
    char c;
    while (::read(0, &c, 1) > 0) {
    }
    for (int fd : held) ::close(fd);
    return 0;
}
