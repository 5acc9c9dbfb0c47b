// kqueue backend (macOS, FreeBSD, OpenBSD, NetBSD, DragonFly). Read and write interest are two
// filters per fd; a wait merges them back into one [fd, events] pair. Level-triggered (no
// EV_CLEAR); the kqueue fd is itself pollable, so libuv watches it as it would epoll's.
#include "poller.h"

#if defined(EVLOOP_HAVE_KQUEUE)

#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>

namespace evloop {
namespace {

class KqueuePoller final : public Poller {
 public:
  explicit KqueuePoller(int kq) : kq_(kq), ready_(kCapacity) {}
  ~KqueuePoller() override { Close(); }

  const char* Name() const override { return "kqueue"; }
  int Fd() const override { return kq_; }

  int Add(int fd, int events) override {
    if (registry_.Has(fd)) return EEXIST;
    int err = Change(fd, 0, events);
    if (err != 0) return err;
    registry_.Set(fd, events);
    return 0;
  }

  int Modify(int fd, int events) override {
    int old = registry_.Get(fd);
    if (old == 0) return ENOENT;
    int err = Change(fd, old, events);
    if (err != 0) return err;
    registry_.Set(fd, events);
    return 0;
  }

  int Remove(int fd) override {
    int old = registry_.Get(fd);
    if (old == 0) return ENOENT;
    registry_.Erase(fd);
    // Closing an fd deletes its kevents: EBADF / ENOENT mean there is nothing left to drop.
    int err = Change(fd, old, 0);
    if (err != 0 && err != EBADF && err != ENOENT) return err;
    return 0;
  }

  int Wait(int32_t* out, int capacity, int timeout_ms) override {
    if (kq_ < 0) return -EBADF;
    if (capacity > kCapacity) capacity = kCapacity;
    struct timespec ts;
    struct timespec* tsp = nullptr;
    if (timeout_ms >= 0) {
      ts.tv_sec = timeout_ms / 1000;
      ts.tv_nsec = static_cast<long>(timeout_ms % 1000) * 1000000L;
      tsp = &ts;
    }
    int r = kevent(kq_, nullptr, 0, ready_.data(), capacity, tsp);
    if (r == -1) return errno == EINTR ? 0 : -errno;
    // A fd ready for both reading and writing comes back as two kevents; merge them so JS sees
    // one pair per fd, as with the other backends. A stamp per fd avoids clearing a table.
    if (++stamp_ == 0) {  // wrapped: forget every old stamp
      seen_stamp_.assign(seen_stamp_.size(), 0);
      stamp_ = 1;
    }
    int n = 0;
    for (int i = 0; i < r; ++i) {
      const struct kevent& ev = ready_[i];
      int fd = static_cast<int>(ev.ident);
      int events = 0;
      if (ev.flags & EV_ERROR) {
        events |= kError;
      } else {
        if (ev.filter == EVFILT_READ) events |= kRead;
        if (ev.filter == EVFILT_WRITE) events |= kWrite;
        if (ev.flags & EV_EOF) {
          events |= kHup;
          if (ev.fflags != 0) events |= kError;  // fflags carries the socket error
        }
      }
      if (static_cast<size_t>(fd) >= seen_stamp_.size()) {
        seen_stamp_.resize(static_cast<size_t>(fd) + 64, 0);
        seen_slot_.resize(static_cast<size_t>(fd) + 64, 0);
      }
      if (seen_stamp_[fd] == stamp_) {
        out[2 * seen_slot_[fd] + 1] |= events;
      } else {
        seen_stamp_[fd] = stamp_;
        seen_slot_[fd] = n;
        out[2 * n] = fd;
        out[2 * n + 1] = events;
        ++n;
      }
    }
    return n;
  }

  void Close() override { CloseKernelFd(&kq_); }

 private:
  // Moves fd's filters from `from` to `to` (READ/WRITE masks) in one kevent call, all or
  // nothing. With no room for results, kevent applies the changes in order and returns -1 at the
  // first that fails, leaving the rest undone. So additions go first: then whichever change
  // fails, taking back the additions restores what the kernel had. With a deletion first, a
  // failing addition after it (the kernel may refuse the write filter for an fd it took the
  // read filter for) would leave the fd with neither, registered but never reported again.
  // udata is 0, not nullptr: NetBSD declares it intptr_t, which a nullptr does not convert to.
  int Change(int fd, int from, int to) {
    const int added = to & ~from;
    const int removed = from & ~to;
    struct kevent changes[2];  // added and removed are disjoint subsets of READ|WRITE
    int count = 0;
    if (added & kRead) EV_SET(&changes[count++], fd, EVFILT_READ, EV_ADD, 0, 0, 0);
    if (added & kWrite) EV_SET(&changes[count++], fd, EVFILT_WRITE, EV_ADD, 0, 0, 0);
    if (removed & kRead) EV_SET(&changes[count++], fd, EVFILT_READ, EV_DELETE, 0, 0, 0);
    if (removed & kWrite) EV_SET(&changes[count++], fd, EVFILT_WRITE, EV_DELETE, 0, 0, 0);
    if (count == 0) return 0;
    if (kevent(kq_, changes, count, nullptr, 0, nullptr) == -1) {
      int err = errno;
      struct kevent undo[2];
      int undo_count = 0;
      if (added & kRead) EV_SET(&undo[undo_count++], fd, EVFILT_READ, EV_DELETE, 0, 0, 0);
      if (added & kWrite) EV_SET(&undo[undo_count++], fd, EVFILT_WRITE, EV_DELETE, 0, 0, 0);
      // The additions that took are a prefix of `changes`, so this call, in the same order,
      // stops (ENOENT) only where those that never took begin.
      if (undo_count > 0) kevent(kq_, undo, undo_count, nullptr, 0, nullptr);
      return err;
    }
    return 0;
  }

  int kq_;
  std::vector<struct kevent> ready_;
  std::vector<uint32_t> seen_stamp_;
  std::vector<int> seen_slot_;
  uint32_t stamp_ = 0;
};

}  // namespace

std::unique_ptr<Poller> CreateKqueuePoller(int* err) {
  int kq = kqueue();
  if (kq == -1) {
    *err = errno;
    return nullptr;
  }
  int flags = fcntl(kq, F_GETFD);
  if (flags != -1) fcntl(kq, F_SETFD, flags | FD_CLOEXEC);
  return std::make_unique<KqueuePoller>(kq);
}

}  // namespace evloop

#endif  // EVLOOP_HAVE_KQUEUE
