// uWebSockets.js listens with uSockets' fixed listen(fd, 512) and exposes neither the socket nor a
// backlog setting; under a burst of new connections the kernel drops the handshakes past 512 and
// each client retries a second later, past its deadline (docs/budgets.md). Linux lets listen() be
// called again on a listening socket to change its accept-queue bound (capped by
// net.core.somaxconn): this finds the process's listening TCP sockets on a port and does that.
// Written by hand because nothing else can reach a socket uWS.js holds; it runs once per listen.
#include "listen_backlog.h"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>

namespace sluice {

namespace {

int LocalPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return -1;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return -1;
}

bool IsTcpListener(int fd) {
  int accepting = 0;
  socklen_t len = sizeof(accepting);
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 || accepting == 0) return false;
  int type = 0;
  len = sizeof(type);
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

}  // namespace

Napi::Value RaiseListenBacklog(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    throw Napi::TypeError::New(env, "raiseListenBacklog(port, backlog) takes two numbers");
  }
  const int port = info[0].As<Napi::Number>().Int32Value();
  const int backlog = info[1].As<Napi::Number>().Int32Value();
  if (port < 1 || port > 65535 || backlog < 1) throw Napi::RangeError::New(env, "port must be 1-65535 and backlog at least 1");
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return Napi::Number::New(env, 0);
  const int own = dirfd(dir);
  int changed = 0;
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == own) continue;
    const int sock = static_cast<int>(fd);
    if (IsTcpListener(sock) && LocalPort(sock) == port && listen(sock, backlog) == 0) changed++;
  }
  closedir(dir);
  return Napi::Number::New(env, changed);
}

}  // namespace sluice
