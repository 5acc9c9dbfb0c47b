// The readiness-poller backend contract, written once (as mio's src/sys/mod.rs is): every
// backend (epoll, kqueue, poll, select) implements exactly this surface, and poller_wrap.cc
// builds the JS class and the libuv integration on top of it without knowing which one it has.
//
// Backends are plain C++: they report failures as positive errno values and never touch JS.
// They are used from the JS thread only, except Snapshot/BlockOnSnapshot which the helper
// thread of fd-less backends (poll, select) calls; the wrapper serialises the two with a mutex.
#pragma once

#include <climits>
#include <cstdint>
#include <memory>
#include <vector>

#include <cerrno>

#include <fcntl.h>
#include <poll.h>
#include <sys/select.h>
#include <unistd.h>

namespace evloop {

// Interest (input) and readiness (output) bits, shared with JS as binding.constants.
enum EventBits : int {
  kRead = 1,
  kWrite = 2,
  kError = 4,  // EPOLLERR, POLLERR, POLLNVAL, EV_ERROR
  kHup = 8,    // EPOLLHUP/EPOLLRDHUP, POLLHUP/POLLRDHUP, EV_EOF
  // Interest only, and only the wrapper's: with kRead, the wrapper reads the fd into the read
  // slab during the batch. Backends never see it (the wrapper strips it before Add/Modify).
  kAutoRead = 16,
};

// What the wrapper writes as the length of a batch entry it did not read (no auto-read, not
// readable, no slab or no room left), and for a read that would block. Any other negative length
// is -errno; 0 is EOF.
constexpr int32_t kReadNotDone = INT32_MIN;
constexpr int32_t kReadWouldBlock = INT32_MIN + 1;

// Pairs per batch: the size of the shared Int32Array is 2 * kCapacity.
constexpr int kCapacity = 1024;

// fd -> interest mask, O(1) both ways; every backend keeps one so EEXIST / ENOENT / size mean the
// same thing everywhere, whatever the kernel would have said.
class Registry {
 public:
  int Get(int fd) const {
    return fd >= 0 && static_cast<size_t>(fd) < mask_.size() ? mask_[fd] : 0;
  }
  bool Has(int fd) const { return Get(fd) != 0; }
  void Set(int fd, int events) {
    if (static_cast<size_t>(fd) >= mask_.size()) mask_.resize(static_cast<size_t>(fd) + 64, 0);
    if (mask_[fd] == 0) ++size_;
    mask_[fd] = static_cast<uint8_t>(events);
  }
  void Erase(int fd) {
    if (!Has(fd)) return;
    mask_[fd] = 0;
    --size_;
  }
  int Size() const { return size_; }
  // One past the highest slot that may be set (for scans).
  int Limit() const { return static_cast<int>(mask_.size()); }

 private:
  std::vector<uint8_t> mask_;
  int size_ = 0;
};

// What the helper thread of an fd-less backend blocks on: a private copy of the interest set
// taken under the wrapper's lock, so the JS thread may change the real one meanwhile.
struct WaitSnapshot {
  std::vector<struct pollfd> pollfds;  // poll: slot 0 is the wake fd
  fd_set read_set;                     // select
  fd_set write_set;
  int max_fd = -1;
};

class Poller {
 public:
  virtual ~Poller() = default;

  virtual const char* Name() const = 0;

  // Registration. `events` is a non-zero READ|WRITE mask (the wrapper checked it). They return 0
  // or a positive errno: EEXIST (Add of a registered fd), ENOENT (Modify/Remove of an
  // unregistered one), EBADF (not open), or whatever the kernel says.
  virtual int Add(int fd, int events) = 0;
  virtual int Modify(int fd, int events) = 0;
  // Removing a registered fd that has been closed meanwhile succeeds: the registration is dropped
  // (the kernel already forgot it, or will report nothing for it).
  virtual int Remove(int fd) = 0;

  // Highest fd + 1 this backend can take (select: FD_SETSIZE).
  virtual int FdLimit() const { return INT_MAX; }
  const Registry& registry() const { return registry_; }
  int Size() const { return registry_.Size(); }

  // Waits up to timeout_ms (-1 forever, 0 poll) and writes n pairs [fd, events] into `out`
  // (room for `capacity` pairs). Returns n >= 0, 0 on timeout or EINTR, or -errno.
  virtual int Wait(int32_t* out, int capacity, int timeout_ms) = 0;

  // A pollable fd that turns readable when Wait would report something (epoll, kqueue), so
  // libuv can watch it; -1 when the backend needs the helper thread (poll, select).
  virtual int Fd() const = 0;

  // Helper-thread pair, for Fd() == -1 only. Snapshot copies the interest set (under the lock);
  // BlockOnSnapshot blocks without the lock, forever, on that copy plus `wake_fd`. It returns the
  // number of ready registered fds (> 0), 0 when only woken, or -errno; *woken says whether the
  // wake fd was readable.
  virtual void Snapshot(WaitSnapshot* snapshot) const { (void)snapshot; }
  virtual int BlockOnSnapshot(WaitSnapshot* snapshot, int wake_fd, bool* woken) const {
    (void)snapshot;
    (void)wake_fd;
    *woken = false;
    return 0;
  }

  // Releases the kernel object (idempotent). The registry is emptied.
  virtual void Close() = 0;

 protected:
  // Close() of the backends whose kernel object is an fd (epoll, kqueue): release it once (the
  // destructor and close() may both get here) and forget every registration with it.
  void CloseKernelFd(int* fd) {
    if (*fd >= 0) {
      ::close(*fd);
      *fd = -1;
    }
    registry_ = Registry();
  }

  Registry registry_;
};

// Factories: nullptr with *err set (positive errno) on failure. Only the backends this platform
// has are compiled; AvailableBackends lists them best first.
std::unique_ptr<Poller> CreateEpollPoller(int* err);
std::unique_ptr<Poller> CreateKqueuePoller(int* err);
std::unique_ptr<Poller> CreatePollPoller(int* err);
std::unique_ptr<Poller> CreateSelectPoller(int* err);

// Backend names this platform has, best first (binding.backends).
#if defined(__linux__)
#define EVLOOP_HAVE_EPOLL 1
inline constexpr const char* kBackends[] = {"epoll", "poll", "select"};
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || \
    defined(__NetBSD__) || defined(__DragonFly__)
#define EVLOOP_HAVE_KQUEUE 1
inline constexpr const char* kBackends[] = {"kqueue", "poll", "select"};
#else
inline constexpr const char* kBackends[] = {"poll", "select"};
#endif

// True when fd refers to an open file description.
inline bool FdIsOpen(int fd) { return fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

// O_NONBLOCK + FD_CLOEXEC, for platforms without SOCK_NONBLOCK / accept4 / pipe2. 0 or errno.
inline int SetNonBlockCloexec(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) return errno;
  int fdflags = fcntl(fd, F_GETFD);
  if (fdflags == -1 || fcntl(fd, F_SETFD, fdflags | FD_CLOEXEC) == -1) return errno;
  return 0;
}

}  // namespace evloop
