// epoll backend (Linux). Level-triggered; the epoll fd itself is what libuv watches.
#include "poller.h"

#if defined(__linux__)

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>

#include "nocancel.h"

namespace evloop {
namespace {

// epoll_wait without glibc's cancellation-point brackets (see nocancel.h): the poller waits
// once or more per batch, with a zero timeout when libuv has just found its fd readable
// (callgrind: ~70 instructions a wait in the wrapper and __pthread_enable/disable_asynccancel).
inline int EpollWaitNoCancel(int epfd, struct epoll_event* events, int max, int timeout_ms) {
#if defined(__x86_64__)
  long r;
  register long r10 __asm__("r10") = timeout_ms;
  __asm__ volatile("syscall"
                   : "=a"(r)
                   : "a"(static_cast<long>(SYS_epoll_wait)), "D"(static_cast<long>(epfd)),
                     "S"(events), "d"(static_cast<long>(max)), "r"(r10)
                   : "rcx", "r11", "memory");
  return static_cast<int>(SyscallResult(r));
#else
  return epoll_wait(epfd, events, max, timeout_ms);
#endif
}

uint32_t ToEpoll(int events) {
  uint32_t e = 0;
  // EPOLLRDHUP with read interest: a peer's FIN shows up as HUP next to READ, so the JS side
  // learns about half-close without an extra recv probe.
  if (events & kRead) e |= EPOLLIN | EPOLLRDHUP;
  if (events & kWrite) e |= EPOLLOUT;
  return e;
}

int FromEpoll(uint32_t e) {
  int events = 0;
  if (e & (EPOLLIN | EPOLLPRI)) events |= kRead;
  if (e & EPOLLOUT) events |= kWrite;
  if (e & EPOLLERR) events |= kError;
  if (e & (EPOLLHUP | EPOLLRDHUP)) events |= kHup;
  return events;
}

class EpollPoller final : public Poller {
 public:
  explicit EpollPoller(int epfd) : epfd_(epfd), ready_(kCapacity) {}
  ~EpollPoller() override { Close(); }

  const char* Name() const override { return "epoll"; }
  int Fd() const override { return epfd_; }

  int Add(int fd, int events) override {
    if (registry_.Has(fd)) return EEXIST;
    if (Ctl(EPOLL_CTL_ADD, fd, events) == -1) {
      // A stale kernel registration (fd closed behind our back, number reused by a dup that
      // kept the old description alive) is replaced rather than reported.
      if (errno != EEXIST || Ctl(EPOLL_CTL_MOD, fd, events) == -1) return errno;
    }
    registry_.Set(fd, events);
    return 0;
  }

  int Modify(int fd, int events) override {
    if (!registry_.Has(fd)) return ENOENT;
    if (Ctl(EPOLL_CTL_MOD, fd, events) == -1) return errno;
    registry_.Set(fd, events);
    return 0;
  }

  int Remove(int fd) override {
    if (!registry_.Has(fd)) return ENOENT;
    registry_.Erase(fd);
    // EBADF / ENOENT / EPERM here mean the fd was closed (and maybe reused) since it was added:
    // the kernel already dropped the registration, which is all Remove promises.
    if (epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr) == -1 && errno != EBADF &&
        errno != ENOENT && errno != EPERM) {
      return errno;
    }
    return 0;
  }

  int Wait(int32_t* out, int capacity, int timeout_ms) override {
    if (epfd_ < 0) return -EBADF;
    if (capacity > kCapacity) capacity = kCapacity;
    int n = EpollWaitNoCancel(epfd_, ready_.data(), capacity, timeout_ms);
    if (n == -1) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; ++i) {
      out[2 * i] = ready_[i].data.fd;
      out[2 * i + 1] = FromEpoll(ready_[i].events);
    }
    return n;
  }

  void Close() override { CloseKernelFd(&epfd_); }

 private:
  int Ctl(int op, int fd, int events) {
    struct epoll_event ev {};
    ev.events = ToEpoll(events);
    ev.data.fd = fd;
    return epoll_ctl(epfd_, op, fd, &ev);
  }

  int epfd_;
  std::vector<struct epoll_event> ready_;
};

}  // namespace

std::unique_ptr<Poller> CreateEpollPoller(int* err) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd == -1) {
    *err = errno;
    return nullptr;
  }
  return std::make_unique<EpollPoller>(epfd);
}

}  // namespace evloop

#endif  // __linux__
