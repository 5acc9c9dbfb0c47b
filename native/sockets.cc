// Non-blocking socket calls. Every fd they take must be one this addon instance created and
// still owns (EBADF otherwise), so a JS bug can never touch Node's own fds. The per-byte calls
// (recv, send, writev) are the hot path: raw napi reads of the arguments, no allocation, and
// would-block is the return value -1, never an exception.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "addon.h"
#include "errors.h"
#include "nocancel.h"

#if defined(MSG_NOSIGNAL)
constexpr int kSendFlags = MSG_NOSIGNAL;  // a vanished peer is EPIPE, never SIGPIPE
#else
constexpr int kSendFlags = 0;  // macOS: SO_NOSIGPIPE is set on every socket instead
#endif

namespace evloop {
namespace {

constexpr int kMaxIov = 1024;  // IOV_MAX on Linux and macOS; the rest goes in the next call

bool WouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

// A signal that lands before the call did anything is not a failure: run it again. A template
// (not std::function) so the call is inlined and the hot path pays nothing for the wrapper.
template <typename Call>
inline auto RetryOnEintr(Call call) -> decltype(call()) {
  decltype(call()) result;
  do {
    result = call();
  } while (result == -1 && errno == EINTR);
  return result;
}

// The convention of every byte-moving call: n >= 0 as the kernel said, would-block as -1 (a
// return value, never an exception), any other failure thrown as the `syscall` errno error.
inline ssize_t WouldBlockOrThrow(napi_env env, ssize_t n, const char* syscall) {
  if (n == -1 && !WouldBlock(errno)) ThrowErrno(Napi::Env(env), errno, syscall);
  return n;
}

inline Napi::Value IoResult(napi_env env, ssize_t n, const char* syscall) {
  return Napi::Number::New(env, static_cast<double>(WouldBlockOrThrow(env, n, syscall)));
}

// The fd argument of every socket call: an integer this addon instance created and still owns.
struct OwnedFd {
  int fd;
  uint8_t kind;
};

inline OwnedFd ArgOwnedFd(const EvloopAddon& addon, napi_env env, napi_value value,
                          const char* syscall) {
  int fd = ArgFd(env, value);
  return {fd, addon.RequireOwned(env, fd, syscall)};
}

// (fd, buf, offset, length): the owned fd and the window of the caller's buffer to fill or send.
struct IoArgs {
  int fd;
  uint8_t kind;
  uint8_t* data;  // buf + offset
  size_t length;
};

inline IoArgs ArgIo(const EvloopAddon& addon, const Napi::CallbackInfo& info,
                    const char* syscall) {
  napi_env env = info.Env();
  OwnedFd owned = ArgOwnedFd(addon, env, info[0], syscall);
  uint8_t* data;
  size_t size, offset, length;
  ArgBytes(env, info[1], "buf", &data, &size);
  ArgWindow(env, info[2], info[3], size, &offset, &length);
  return {owned.fd, owned.kind, data + offset, length};
}

// Makes a fresh fd non-blocking, close-on-exec and SIGPIPE-free where the creating call could
// not do it itself. 0 or errno (the fd is closed on failure).
int PrepareFd(int fd) {
#if !defined(SOCK_NONBLOCK)
  int err = SetNonBlockCloexec(fd);
  if (err != 0) {
    close(fd);
    return err;
  }
#endif
#if defined(SO_NOSIGPIPE)
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif
  (void)fd;
  return 0;
}

int SocketTypeFlags(int type) {
#if defined(SOCK_NONBLOCK)
  return type | SOCK_NONBLOCK | SOCK_CLOEXEC;
#else
  return type;
#endif
}

int ArgSocketType(napi_env env, napi_value value) {
  char buf[16];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, buf, sizeof(buf), &len) == napi_ok) {
    if (std::strcmp(buf, "stream") == 0) return SOCK_STREAM;
    if (std::strcmp(buf, "dgram") == 0) return SOCK_DGRAM;
  }
  ThrowTypeError(Napi::Env(env), "ERR_INVALID_ARG_VALUE",
                 "The \"type\" argument must be 'stream' or 'dgram'");
}

int ArgPort(napi_env env, napi_value value) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok || !(d >= 0 && d <= 65535) ||
      d != static_cast<double>(static_cast<int>(d))) {
    ThrowRangeError(Napi::Env(env), "ERR_SOCKET_BAD_PORT",
                    "Port should be an integer >= 0 and < 65536");
  }
  return static_cast<int>(d);
}

// A numeric host (IPv4, or IPv6 with an optional %zone) + port, in the family of the socket:
// an IPv4 address on an IPv6 socket becomes the v4-mapped ::ffff:a.b.c.d, as Node does.
socklen_t ArgAddress(napi_env env, napi_value host_value, napi_value port_value, uint8_t kind,
                     struct sockaddr_storage* ss, const char* syscall) {
  char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, host_value, nullptr, 0, &len) != napi_ok) {
    ThrowTypeError(Napi::Env(env), "ERR_INVALID_ARG_TYPE",
                   "The \"host\" argument must be of type string");
  }
  bool fits = len < sizeof(host);
  if (fits) napi_get_value_string_utf8(env, host_value, host, sizeof(host), &len);
  int port = ArgPort(env, port_value);
  std::memset(ss, 0, sizeof(*ss));

  struct in_addr v4;
  struct in6_addr v6;
  uint32_t scope = 0;
  bool is_v4 = fits && std::strlen(host) == len && inet_pton(AF_INET, host, &v4) == 1;
  bool is_v6 = false;
  if (fits && !is_v4 && std::strlen(host) == len) {
    char* zone = std::strchr(host, '%');
    if (zone != nullptr) *zone = '\0';
    is_v6 = inet_pton(AF_INET6, host, &v6) == 1;
    if (is_v6 && zone != nullptr) {
      scope = if_nametoindex(zone + 1);
      if (scope == 0) {
        char* end = nullptr;
        unsigned long numeric = std::strtoul(zone + 1, &end, 10);
        if (end == zone + 1 || *end != '\0') is_v6 = false;
        scope = static_cast<uint32_t>(numeric);
      }
    }
  }
  if (!is_v4 && !is_v6) {
    ThrowTypeError(Napi::Env(env), "ERR_INVALID_IP_ADDRESS",
                   std::string("Invalid IP address: ") + (fits ? host : "(too long)"));
  }
  if (kind == kInet) {
    if (!is_v4) ThrowErrno(Napi::Env(env), EAFNOSUPPORT, syscall);
    auto* sin = reinterpret_cast<struct sockaddr_in*>(ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    sin->sin_addr = v4;
    return sizeof(*sin);
  }
  if (kind == kInet6) {
    auto* sin6 = reinterpret_cast<struct sockaddr_in6*>(ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(port));
    if (is_v4) {
      uint8_t* bytes = sin6->sin6_addr.s6_addr;
      bytes[10] = 0xff;
      bytes[11] = 0xff;
      std::memcpy(bytes + 12, &v4, 4);
    } else {
      sin6->sin6_addr = v6;
      sin6->sin6_scope_id = scope;
    }
    return sizeof(*sin6);
  }
  ThrowErrno(Napi::Env(env), EAFNOSUPPORT, syscall);
}

socklen_t ArgUnixPath(napi_env env, napi_value value, struct sockaddr_un* sun,
                      const char* syscall) {
  std::memset(sun, 0, sizeof(*sun));
  sun->sun_family = AF_UNIX;
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, nullptr, 0, &len) != napi_ok) {
    ThrowTypeError(Napi::Env(env), "ERR_INVALID_ARG_TYPE",
                   "The \"path\" argument must be of type string");
  }
  if (len + 1 > sizeof(sun->sun_path)) ThrowErrno(Napi::Env(env), ENAMETOOLONG, syscall);
  napi_get_value_string_utf8(env, value, sun->sun_path, sizeof(sun->sun_path), &len);
  if (std::strlen(sun->sun_path) != len) {
    ThrowTypeError(Napi::Env(env), "ERR_INVALID_ARG_VALUE",
                   "The \"path\" argument must not contain null bytes");
  }
  return static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

Napi::Object AddressObject(Napi::Env env, const struct sockaddr_storage* ss, socklen_t len) {
  Napi::Object result = Napi::Object::New(env);
  char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 2] = "";
  if (ss->ss_family == AF_INET) {
    auto* sin = reinterpret_cast<const struct sockaddr_in*>(ss);
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
    result.Set("address", Napi::String::New(env, text));
    result.Set("family", Napi::String::New(env, "IPv4"));
    result.Set("port", Napi::Number::New(env, ntohs(sin->sin_port)));
  } else if (ss->ss_family == AF_INET6) {
    auto* sin6 = reinterpret_cast<const struct sockaddr_in6*>(ss);
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
    if (sin6->sin6_scope_id != 0) {
      size_t used = std::strlen(text);
      text[used] = '%';
      if (if_indextoname(sin6->sin6_scope_id, text + used + 1) == nullptr) {
        std::snprintf(text + used + 1, sizeof(text) - used - 1, "%u", sin6->sin6_scope_id);
      }
    }
    result.Set("address", Napi::String::New(env, text));
    result.Set("family", Napi::String::New(env, "IPv6"));
    result.Set("port", Napi::Number::New(env, ntohs(sin6->sin6_port)));
  } else {
    auto* sun = reinterpret_cast<const struct sockaddr_un*>(ss);
    size_t offset = offsetof(struct sockaddr_un, sun_path);
    size_t path_len = len > offset ? static_cast<size_t>(len) - offset : 0;
    if (path_len > 0 && sun->sun_path[0] != '\0') path_len = strnlen(sun->sun_path, path_len);
    result.Set("address", Napi::String::New(env, sun->sun_path, path_len));
    result.Set("family", Napi::String::New(env, "unix"));
    result.Set("port", Napi::Number::New(env, 0));
  }
  return result;
}

struct SockOpt {
  const char* name;
  int level;
  int option;
  bool settable;
};

// -1 for an option this platform lacks (ENOPROTOOPT when used).
constexpr SockOpt kSockOpts[] = {
    {"TCP_NODELAY", IPPROTO_TCP, TCP_NODELAY, true},
    {"SO_REUSEADDR", SOL_SOCKET, SO_REUSEADDR, true},
#if defined(SO_REUSEPORT)
    {"SO_REUSEPORT", SOL_SOCKET, SO_REUSEPORT, true},
#else
    {"SO_REUSEPORT", SOL_SOCKET, -1, true},
#endif
    {"SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE, true},
    {"SO_RCVBUF", SOL_SOCKET, SO_RCVBUF, true},
    {"SO_SNDBUF", SOL_SOCKET, SO_SNDBUF, true},
    {"SO_BROADCAST", SOL_SOCKET, SO_BROADCAST, true},
    {"SO_LINGER", SOL_SOCKET, SO_LINGER, true},
    {"IPV6_V6ONLY", IPPROTO_IPV6, IPV6_V6ONLY, true},
    {"SO_ERROR", SOL_SOCKET, SO_ERROR, false},
    {"SO_TYPE", SOL_SOCKET, SO_TYPE, false},
};

const SockOpt& ArgSockOpt(napi_env env, napi_value value, bool for_set) {
  char name[32];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, name, sizeof(name), &len) != napi_ok) {
    ThrowTypeError(Napi::Env(env), "ERR_INVALID_ARG_TYPE",
                   "The \"name\" argument must be of type string");
  }
  for (const SockOpt& opt : kSockOpts) {
    if (std::strcmp(opt.name, name) == 0) {
      if (for_set && !opt.settable) {
        ThrowTypeError(Napi::Env(env), "ERR_INVALID_ARG_VALUE",
                       std::string("The socket option ") + name + " is read-only");
      }
      return opt;
    }
  }
  ThrowTypeError(Napi::Env(env), "ERR_INVALID_ARG_VALUE",
                 std::string("Unknown socket option: '") + name + "'");
}

}  // namespace

Napi::Value EvloopAddon::Socket(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  char domain_name[16] = "";
  size_t len = 0;
  napi_get_value_string_utf8(env, info[0], domain_name, sizeof(domain_name), &len);
  int domain;
  uint8_t kind;
  if (std::strcmp(domain_name, "inet") == 0) {
    domain = AF_INET;
    kind = kInet;
  } else if (std::strcmp(domain_name, "inet6") == 0) {
    domain = AF_INET6;
    kind = kInet6;
  } else if (std::strcmp(domain_name, "unix") == 0) {
    domain = AF_UNIX;
    kind = kUnix;
  } else {
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_VALUE",
                   "The \"domain\" argument must be 'inet', 'inet6' or 'unix'");
  }
  int type = ArgSocketType(env, info[1]);
  int fd = socket(domain, SocketTypeFlags(type), 0);
  if (fd == -1) ThrowErrno(info.Env(), errno, "socket");
  int err = PrepareFd(fd);
  if (err != 0) ThrowErrno(info.Env(), err, "socket");
  Own(fd, kind);
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value EvloopAddon::SocketPair(const Napi::CallbackInfo& info) {
  int type = ArgSocketType(info.Env(), info[0]);
  int fds[2];
  if (socketpair(AF_UNIX, SocketTypeFlags(type), 0, fds) == -1) {
    ThrowErrno(info.Env(), errno, "socketpair");
  }
  int err = PrepareFd(fds[0]);
  if (err != 0) {
    close(fds[1]);
    ThrowErrno(info.Env(), err, "socketpair");
  }
  err = PrepareFd(fds[1]);
  if (err != 0) {
    close(fds[0]);
    ThrowErrno(info.Env(), err, "socketpair");
  }
  Own(fds[0], kUnix);
  Own(fds[1], kUnix);
  Napi::Array result = Napi::Array::New(info.Env(), 2);
  result.Set(0u, Napi::Number::New(info.Env(), fds[0]));
  result.Set(1u, Napi::Number::New(info.Env(), fds[1]));
  return result;
}

Napi::Value EvloopAddon::Bind(const Napi::CallbackInfo& info) {
  OwnedFd owned = ArgOwnedFd(*this, info.Env(), info[0], "bind");
  struct sockaddr_storage ss;
  socklen_t len = ArgAddress(info.Env(), info[1], info[2], owned.kind, &ss, "bind");
  if (bind(owned.fd, reinterpret_cast<struct sockaddr*>(&ss), len) == -1) {
    ThrowErrno(info.Env(), errno, "bind");
  }
  return info.Env().Undefined();
}

Napi::Value EvloopAddon::BindUnix(const Napi::CallbackInfo& info) {
  int fd = ArgOwnedFd(*this, info.Env(), info[0], "bind").fd;
  struct sockaddr_un sun;
  socklen_t len = ArgUnixPath(info.Env(), info[1], &sun, "bind");
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&sun), len) == -1) {
    ThrowErrno(info.Env(), errno, "bind");
  }
  return info.Env().Undefined();
}

Napi::Value EvloopAddon::Listen(const Napi::CallbackInfo& info) {
  int fd = ArgOwnedFd(*this, info.Env(), info[0], "listen").fd;
  int backlog = static_cast<int>(ArgIntOr(info.Env(), info[1], "backlog", 0, 65535, 511));
  if (listen(fd, backlog) == -1) ThrowErrno(info.Env(), errno, "listen");
  return info.Env().Undefined();
}

Napi::Value EvloopAddon::Accept(const Napi::CallbackInfo& info) {
  OwnedFd listener = ArgOwnedFd(*this, info.Env(), info[0], "accept");
  int conn = RetryOnEintr([&] {
#if defined(SOCK_NONBLOCK)
    return accept4(listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    return accept(listener.fd, nullptr, nullptr);
#endif
  });
  if (conn == -1) {
    // ECONNABORTED: the client gave up while queued; nothing to accept, as asyncio treats it.
    if (WouldBlock(errno) || errno == ECONNABORTED) return Napi::Number::New(info.Env(), -1);
    ThrowErrno(info.Env(), errno, "accept");
  }
  int err = PrepareFd(conn);
  if (err != 0) ThrowErrno(info.Env(), err, "accept");
  Own(conn, listener.kind);
  return Napi::Number::New(info.Env(), conn);
}

static Napi::Value ConnectResult(Napi::Env env, int r) {
  if (r == 0) return Napi::Number::New(env, 1);
  // EINTR: POSIX says the connection then proceeds asynchronously, exactly like EINPROGRESS.
  if (errno == EINPROGRESS || errno == EINTR) return Napi::Number::New(env, 0);
  ThrowErrno(env, errno, "connect");
}

Napi::Value EvloopAddon::Connect(const Napi::CallbackInfo& info) {
  OwnedFd owned = ArgOwnedFd(*this, info.Env(), info[0], "connect");
  struct sockaddr_storage ss;
  socklen_t len = ArgAddress(info.Env(), info[1], info[2], owned.kind, &ss, "connect");
  return ConnectResult(info.Env(),
                       connect(owned.fd, reinterpret_cast<struct sockaddr*>(&ss), len));
}

Napi::Value EvloopAddon::ConnectUnix(const Napi::CallbackInfo& info) {
  int fd = ArgOwnedFd(*this, info.Env(), info[0], "connect").fd;
  struct sockaddr_un sun;
  socklen_t len = ArgUnixPath(info.Env(), info[1], &sun, "connect");
  return ConnectResult(info.Env(), connect(fd, reinterpret_cast<struct sockaddr*>(&sun), len));
}

Napi::Value EvloopAddon::FinishConnect(const Napi::CallbackInfo& info) {
  int fd = ArgOwnedFd(*this, info.Env(), info[0], "connect").fd;
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1) err = errno;
  if (err != 0) ThrowErrno(info.Env(), err, "connect");
  return info.Env().Undefined();
}

Napi::Value EvloopAddon::Recv(const Napi::CallbackInfo& info) {
  IoArgs io = ArgIo(*this, info, "recv");
  ssize_t n = RetryOnEintr([&] { return recv(io.fd, io.data, io.length, 0); });
  return IoResult(info.Env(), n, "recv");
}

Napi::Value EvloopAddon::Send(const Napi::CallbackInfo& info) {
  IoArgs io = ArgIo(*this, info, "send");
  ssize_t n = RetryOnEintr([&] { return send(io.fd, io.data, io.length, kSendFlags); });
  return IoResult(info.Env(), n, "send");
}

// sendBatch(buf, ops, count): the sends a loop pass queued, in one crossing. `ops` holds `count`
// entries of four int32s, [fd, offset, length, result]: each sends buf[offset, offset + length)
// on fd, in order, and gets `result` = bytes sent, READ_WOULD_BLOCK for EAGAIN, or -errno (an fd
// this instance does not own is -EBADF, as a value). An entry with fd -1 was withdrawn: result
// = length, nothing sent. Returns how many entries did not send their whole length, so the
// common case (everything went) costs JS no look at the results.
// `buf` and `ops` may also be the ArrayBuffers under them (the loop passes those): an
// ArrayBuffer's memory is one cheap call away, a typed array's about 450 instructions.
Napi::Value EvloopAddon::SendBatch(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  uint8_t* data;
  size_t size;
  void* bytes = nullptr;
  // An ArrayBuffer (the loop's case) is asked for its memory directly: the call fails for
  // anything else, which then takes the typed-array path (napi_is_arraybuffer first cost two
  // calls more per batch).
  if (napi_get_arraybuffer_info(env, info[0], &bytes, &size) == napi_ok) {
    data = static_cast<uint8_t*>(bytes);
  } else {
    ArgBytes(env, info[0], "buf", &data, &size);
  }
  size_t ops_length = 0;
  void* ops_data = nullptr;
  if (napi_get_arraybuffer_info(env, info[1], &ops_data, &ops_length) == napi_ok &&
      reinterpret_cast<uintptr_t>(ops_data) % alignof(int32_t) == 0) {
    ops_length /= sizeof(int32_t);
  } else {
    napi_typedarray_type type;
    if (napi_get_typedarray_info(env, info[1], &type, &ops_length, &ops_data, nullptr, nullptr) !=
            napi_ok ||
        type != napi_int32_array) {
      ThrowTypeError(Napi::Env(env), "ERR_INVALID_ARG_TYPE",
                     "The \"ops\" argument must be an instance of Int32Array or an ArrayBuffer");
    }
  }
  int64_t count = ArgInt(env, info[2], "count", 0, static_cast<int64_t>(ops_length / 4));
  int32_t* ops = static_cast<int32_t*>(ops_data);
  // Every window first: a bad one is a bug in the caller, and must not leave half a batch sent.
  for (int64_t i = 0; i < count; ++i) {
    int32_t offset = ops[4 * i + 1];
    int32_t length = ops[4 * i + 2];
    if (offset < 0 || length < 0 || static_cast<size_t>(offset) + static_cast<size_t>(length) > size) {
      ThrowRangeError(Napi::Env(env), "ERR_OUT_OF_RANGE",
                      "sendBatch: an entry's window is outside buf");
    }
  }
  int32_t incomplete = 0;
  for (int64_t i = 0; i < count; ++i) {
    int32_t* op = ops + 4 * i;
    int fd = op[0];
    int32_t length = op[2];
    int32_t result = length;
    if (fd >= 0) {
      uint8_t kind = Kind(fd);
      const uint8_t* bytes = data + op[1];
      ssize_t n;
      if (kind == kNotOwned || kind == kPidfd) {
        n = -1;
        errno = EBADF;
      } else if (kind == kPipe) {
        n = RetryOnEintr([&] { return ::write(fd, bytes, static_cast<size_t>(length)); });
      } else {
        n = RetryOnEintr([&] { return SendNoCancel(fd, bytes, static_cast<size_t>(length), kSendFlags); });
      }
      result = n >= 0 ? static_cast<int32_t>(n) : WouldBlock(errno) ? kReadWouldBlock : -errno;
    }
    op[3] = result;
    if (result != length) ++incomplete;
  }
  return Napi::Number::New(env, incomplete);
}

Napi::Value EvloopAddon::Writev(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  OwnedFd owned = ArgOwnedFd(*this, env, info[0], "writev");
  int fd = owned.fd;
  bool is_array = false;
  napi_value array = info[1];
  if (napi_is_array(env, array, &is_array) != napi_ok || !is_array) {
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                   "The \"buffers\" argument must be an Array of Buffer or Uint8Array");
  }
  uint32_t count = 0;
  napi_get_array_length(env, array, &count);
  if (count > kMaxIov) count = kMaxIov;
  struct iovec iov[kMaxIov];
  for (uint32_t i = 0; i < count; ++i) {
    napi_value element;
    if (napi_get_element(env, array, i, &element) != napi_ok) {
      ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE", "buffers[i] is not readable");
    }
    uint8_t* data;
    size_t size;
    ArgBytes(env, element, "buffers[i]", &data, &size);
    iov[i].iov_base = data;
    iov[i].iov_len = size;
  }
  if (count == 0) return Napi::Number::New(env, 0);
  if (owned.kind == kPipe) {
    // A pipe (Node ignores SIGPIPE, so a vanished reader is EPIPE).
    ssize_t n = RetryOnEintr([&] { return ::writev(fd, iov, static_cast<int>(count)); });
    return IoResult(env, n, "writev");
  }
  // sendmsg rather than writev: only it takes MSG_NOSIGNAL.
  struct msghdr msg {};
  msg.msg_iov = iov;
  msg.msg_iovlen = count;
  ssize_t n = RetryOnEintr([&] { return sendmsg(fd, &msg, kSendFlags); });
  return IoResult(env, n, "writev");
}

Napi::Value EvloopAddon::SendTo(const Napi::CallbackInfo& info) {
  IoArgs io = ArgIo(*this, info, "sendto");
  struct sockaddr_storage ss;
  struct sockaddr* to = nullptr;
  socklen_t to_len = 0;
  if (!IsUndefinedOrNull(info.Env(), info[4])) {
    to_len = ArgAddress(info.Env(), info[4], info[5], io.kind, &ss, "sendto");
    to = reinterpret_cast<struct sockaddr*>(&ss);
  }
  ssize_t n =
      RetryOnEintr([&] { return sendto(io.fd, io.data, io.length, kSendFlags, to, to_len); });
  return IoResult(info.Env(), n, "sendto");
}

Napi::Value EvloopAddon::RecvFrom(const Napi::CallbackInfo& info) {
  IoArgs io = ArgIo(*this, info, "recvfrom");
  struct sockaddr_storage ss;
  socklen_t ss_len;
  ssize_t n = RetryOnEintr([&] {
    ss_len = sizeof(ss);
    std::memset(&ss, 0, sizeof(ss));
    return recvfrom(io.fd, io.data, io.length, 0, reinterpret_cast<struct sockaddr*>(&ss),
                    &ss_len);
  });
  if (WouldBlockOrThrow(info.Env(), n, "recvfrom") == -1) {
    return Napi::Number::New(info.Env(), -1);
  }
  if (ss_len == 0) ss.ss_family = AF_UNIX;  // an unnamed Unix peer
  Napi::Object result = AddressObject(info.Env(), &ss, ss_len);
  result.Set("bytes", Napi::Number::New(info.Env(), static_cast<double>(n)));
  return result;
}

Napi::Value EvloopAddon::Shutdown(const Napi::CallbackInfo& info) {
  int fd = ArgOwnedFd(*this, info.Env(), info[0], "shutdown").fd;
  int how = static_cast<int>(ArgInt(info.Env(), info[1], "how", 0, 2));
  static_assert(SHUT_RD == 0 && SHUT_WR == 1 && SHUT_RDWR == 2, "shutdown() constants");
  if (shutdown(fd, how) == -1) ThrowErrno(info.Env(), errno, "shutdown");
  return info.Env().Undefined();
}

Napi::Value EvloopAddon::Close(const Napi::CallbackInfo& info) {
  int fd = ArgOwnedFd(*this, info.Env(), info[0], "close").fd;
  // Drop every registration first: once closed, the number can be reused at any moment, and
  // poll/select would otherwise spin on POLLNVAL / fail with EBADF.
  ForgetFd(fd);
  Disown(fd);
  // On Linux and macOS the fd is released even when close reports EINTR; never retry.
  if (close(fd) == -1 && errno != EINTR) ThrowErrno(info.Env(), errno, "close");
  return info.Env().Undefined();
}

Napi::Value EvloopAddon::SetSockOpt(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int fd = ArgOwnedFd(*this, env, info[0], "setsockopt").fd;
  const SockOpt& opt = ArgSockOpt(env, info[1], true);
  int value;
  bool flag;
  bool is_bool = napi_get_value_bool(env, info[2], &flag) == napi_ok;
  if (is_bool) {
    value = flag ? 1 : 0;
  } else {
    value = static_cast<int>(ArgInt(env, info[2], "value", INT32_MIN, INT32_MAX));
  }
  if (opt.option == -1) ThrowErrno(info.Env(), ENOPROTOOPT, "setsockopt");
  int r;
  if (opt.option == SO_LINGER && opt.level == SOL_SOCKET) {
    // value: seconds to linger on close, 0 (or true) = close resets the connection;
    // negative or false = off (the default).
    struct linger lg {};
    lg.l_onoff = is_bool ? flag : value >= 0;
    lg.l_linger = is_bool || value < 0 ? 0 : value;
    r = setsockopt(fd, opt.level, opt.option, &lg, sizeof(lg));
  } else {
    r = setsockopt(fd, opt.level, opt.option, &value, sizeof(value));
  }
  if (r == -1) ThrowErrno(info.Env(), errno, "setsockopt");
  return info.Env().Undefined();
}

Napi::Value EvloopAddon::GetSockOpt(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int fd = ArgOwnedFd(*this, env, info[0], "getsockopt").fd;
  const SockOpt& opt = ArgSockOpt(env, info[1], false);
  if (opt.option == -1) ThrowErrno(info.Env(), ENOPROTOOPT, "getsockopt");
  if (opt.option == SO_LINGER && opt.level == SOL_SOCKET) {
    struct linger lg {};
    socklen_t len = sizeof(lg);
    if (getsockopt(fd, opt.level, opt.option, &lg, &len) == -1) {
      ThrowErrno(info.Env(), errno, "getsockopt");
    }
    return Napi::Number::New(env, lg.l_onoff ? lg.l_linger : -1);
  }
  int value = 0;
  socklen_t len = sizeof(value);
  if (getsockopt(fd, opt.level, opt.option, &value, &len) == -1) {
    ThrowErrno(info.Env(), errno, "getsockopt");
  }
  return Napi::Number::New(env, value);
}

// getsockname and getpeername: the same call shape, a different end of the socket.
static Napi::Value SocketAddress(const EvloopAddon& addon, const Napi::CallbackInfo& info,
                                 int (*which)(int, struct sockaddr*, socklen_t*),
                                 const char* syscall) {
  int fd = ArgOwnedFd(addon, info.Env(), info[0], syscall).fd;
  struct sockaddr_storage ss {};
  socklen_t len = sizeof(ss);
  if (which(fd, reinterpret_cast<struct sockaddr*>(&ss), &len) == -1) {
    ThrowErrno(info.Env(), errno, syscall);
  }
  return AddressObject(info.Env(), &ss, len);
}

Napi::Value EvloopAddon::GetSockName(const Napi::CallbackInfo& info) {
  return SocketAddress(*this, info, getsockname, "getsockname");
}

Napi::Value EvloopAddon::GetPeerName(const Napi::CallbackInfo& info) {
  return SocketAddress(*this, info, getpeername, "getpeername");
}

Napi::Value EvloopAddon::ErrName(const Napi::CallbackInfo& info) {
  int64_t err = ArgInt(info.Env(), info[0], "errno", INT32_MIN + 1, INT32_MAX);
  char name[64];
  // Node's errnos are negative (err.errno); accept the positive C value too.
  evloop::ErrName(static_cast<int>(err < 0 ? -err : err), name, sizeof(name));
  return Napi::String::New(info.Env(), name);
}

// errnoError(errno, syscall): the error a failing call would have thrown, for a failure that
// arrived as a value (an auto-read's -errno).
Napi::Value EvloopAddon::ErrnoErrorValue(const Napi::CallbackInfo& info) {
  int64_t err = ArgInt(info.Env(), info[0], "errno", INT32_MIN + 1, INT32_MAX);
  char syscall[32];
  ArgString(info.Env(), info[1], "syscall", syscall, sizeof(syscall));
  return ErrnoError(info.Env(), static_cast<int>(err < 0 ? -err : err), syscall).Value();
}

}  // namespace evloop
