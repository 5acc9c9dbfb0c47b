// kqueue() and kevent() emulated over poll(2) on Linux, for test/native/bsd-shim/kqueue-smoke.cc
// (run by test/native/kqueue-compile.test.js): enough to run native/poller_kqueue.cc's code
// paths, not a kqueue. Only what that file uses, with the semantics kqueue(2) documents:
// - a change list is applied in order; with no room for results, kevent returns -1 with the
//   errno of the first change that fails, and the changes after it are not applied;
// - EV_ADD of a filter that exists updates it (no error); EV_DELETE of one that does not exist
//   is ENOENT; either on an fd that is not open is EBADF;
// - the read and write filters are level-triggered and come back as separate events; the read
//   filter sets EV_EOF when the peer has shut down its side, the write filter when the reader is
//   gone, and with EV_EOF a socket's pending error is in fflags;
// - an fd's filters vanish when it is closed (here: when poll says POLLNVAL).
// What it does not do: make the kqueue fd itself readable when events are pending (libuv's
// uv_poll path), report change errors in the event list, or keep an fd's filters across a
// close and reuse of its number the way a kernel would not (it drops them only when it sees the
// fd closed). Reading SO_ERROR for fflags clears the socket's error, which a kernel would not.
#include <sys/event.h>  // the shim

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <vector>

namespace {

constexpr int kReadBit = 1;
constexpr int kWriteBit = 2;

// kqueue fd -> (fd -> filter bits), ordered so results come in fd order.
std::map<int, std::map<int, int>>& Queues() {
  static std::map<int, std::map<int, int>> queues;
  return queues;
}

bool FdOpen(int fd) { return fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

}  // namespace

// The smoke test's stand-in for a kernel that refuses one filter for an fd it took the other
// for: adding the write filter for this fd fails with EPIPE.
int evloop_emulation_refuse_write_fd = -1;

namespace {

int Apply(std::map<int, int>* notes, const struct kevent& change) {
  int fd = static_cast<int>(change.ident);
  int bit;
  if (change.filter == EVFILT_READ) {
    bit = kReadBit;
  } else if (change.filter == EVFILT_WRITE) {
    bit = kWriteBit;
  } else {
    return EINVAL;
  }
  if (!FdOpen(fd)) return EBADF;
  if (change.flags & EV_ADD) {
    if (bit == kWriteBit && fd == evloop_emulation_refuse_write_fd) return EPIPE;
    (*notes)[fd] |= bit;
    return 0;
  }
  if (change.flags & EV_DELETE) {
    auto it = notes->find(fd);
    if (it == notes->end() || !(it->second & bit)) return ENOENT;
    it->second &= ~bit;
    if (it->second == 0) notes->erase(it);
    return 0;
  }
  return EINVAL;
}

uint32_t SocketError(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1) return 0;  // not a socket
  return static_cast<uint32_t>(err);
}

}  // namespace

int kqueue(void) {
  int fd = eventfd(0, 0);  // only an fd to hand out, fcntl and close
  if (fd == -1) return -1;
  Queues()[fd].clear();
  return fd;
}

int kevent(int kq, const struct kevent* changelist, evloop_shim_count_t nchanges,
           struct kevent* eventlist, evloop_shim_count_t nevents,
           const struct timespec* timeout) {
  auto queue = Queues().find(kq);
  if (queue == Queues().end() || !FdOpen(kq)) {
    errno = EBADF;
    return -1;
  }
  std::map<int, int>& notes = queue->second;
  for (evloop_shim_count_t i = 0; i < nchanges; ++i) {
    int err = Apply(&notes, changelist[i]);
    if (err != 0) {
      errno = err;
      return -1;
    }
  }
  if (nevents == 0) return 0;

  std::vector<struct pollfd> fds;
  for (const auto& [fd, bits] : notes) {
    short events = 0;
    if (bits & kReadBit) events |= POLLIN | POLLRDHUP;
    if (bits & kWriteBit) events |= POLLOUT;
    fds.push_back({fd, events, 0});
  }
  int ms = -1;
  if (timeout != nullptr) {  // whole ms, rounded up: never back before the deadline
    ms = static_cast<int>(timeout->tv_sec * 1000 + (timeout->tv_nsec + 999999) / 1000000);
  }
  if (poll(fds.data(), fds.size(), ms) == -1) return -1;  // EINTR included, as kevent's

  int n = 0;
  const int room = static_cast<int>(nevents);
  for (const struct pollfd& p : fds) {
    if (p.revents & POLLNVAL) {  // closed: the kernel would have dropped its filters
      notes.erase(p.fd);
      continue;
    }
    const int bits = notes[p.fd];
    const bool read_eof = (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
    const bool write_eof = (p.revents & (POLLHUP | POLLERR)) != 0;
    const uint32_t error = (read_eof || write_eof) ? SocketError(p.fd) : 0;
    if ((bits & kReadBit) && (p.revents & POLLIN || read_eof) && n < room) {
      EV_SET(&eventlist[n], p.fd, EVFILT_READ, read_eof ? EV_EOF : 0, read_eof ? error : 0, 0, 0);
      ++n;
    }
    if ((bits & kWriteBit) && (p.revents & POLLOUT || write_eof) && n < room) {
      EV_SET(&eventlist[n], p.fd, EVFILT_WRITE, write_eof ? EV_EOF : 0, write_eof ? error : 0, 0,
             0);
      ++n;
    }
  }
  return n;
}
