// select(2) backend: the lowest common denominator. fds must be < FD_SETSIZE (the wrapper
// rejects larger ones with a RangeError before anything else). select has no hang-up or error
// bits: a closed peer shows up as READ (recv then returns 0 or throws), never as HUP/ERROR,
// except for an fd closed behind our back, which is reported as ERROR.
#include <sys/select.h>
#include <unistd.h>

#include <cerrno>

#include "poller.h"

namespace evloop {
namespace {

class SelectPoller final : public Poller {
 public:
  SelectPoller() {
    FD_ZERO(&read_set_);
    FD_ZERO(&write_set_);
  }

  const char* Name() const override { return "select"; }
  int Fd() const override { return -1; }
  int FdLimit() const override { return FD_SETSIZE; }

  int Add(int fd, int events) override {
    if (registry_.Has(fd)) return EEXIST;
    if (!FdIsOpen(fd)) return EBADF;
    Apply(fd, events);
    registry_.Set(fd, events);
    if (fd > max_fd_) max_fd_ = fd;
    return 0;
  }

  int Modify(int fd, int events) override {
    if (!registry_.Has(fd)) return ENOENT;
    Apply(fd, events);
    registry_.Set(fd, events);
    return 0;
  }

  int Remove(int fd) override {
    if (!registry_.Has(fd)) return ENOENT;
    Apply(fd, 0);
    registry_.Erase(fd);
    if (fd == max_fd_) {
      while (max_fd_ >= 0 && !registry_.Has(max_fd_)) --max_fd_;
    }
    return 0;
  }

  int Wait(int32_t* out, int capacity, int timeout_ms) override {
    fd_set readable = read_set_;
    fd_set writable = write_set_;
    struct timeval tv;
    struct timeval* tvp = nullptr;
    if (timeout_ms >= 0) {
      tv.tv_sec = timeout_ms / 1000;
      tv.tv_usec = (timeout_ms % 1000) * 1000;
      tvp = &tv;
    }
    int r = select(max_fd_ + 1, &readable, &writable, nullptr, tvp);
    if (r == -1) {
      if (errno == EINTR) return 0;
      if (errno == EBADF) return ReportClosed(out, capacity);
      return -errno;
    }
    int n = 0;
    for (int fd = 0; fd <= max_fd_ && r > 0 && n < capacity; ++fd) {
      int events = 0;
      if (FD_ISSET(fd, &readable)) events |= kRead;
      if (FD_ISSET(fd, &writable)) events |= kWrite;
      if (events != 0) {
        out[2 * n] = fd;
        out[2 * n + 1] = events;
        ++n;
      }
    }
    return n;
  }

  void Snapshot(WaitSnapshot* snapshot) const override {
    snapshot->read_set = read_set_;
    snapshot->write_set = write_set_;
    snapshot->max_fd = max_fd_;
  }

  int BlockOnSnapshot(WaitSnapshot* snapshot, int wake_fd, bool* woken) const override {
    FD_SET(wake_fd, &snapshot->read_set);
    int nfds = (wake_fd > snapshot->max_fd ? wake_fd : snapshot->max_fd) + 1;
    int r = select(nfds, &snapshot->read_set, &snapshot->write_set, nullptr, nullptr);
    if (r == -1) {
      *woken = false;
      return errno == EINTR ? 0 : -errno;
    }
    *woken = FD_ISSET(wake_fd, &snapshot->read_set);
    return *woken ? r - 1 : r;
  }

  void Close() override {
    FD_ZERO(&read_set_);
    FD_ZERO(&write_set_);
    max_fd_ = -1;
    registry_ = Registry();
  }

 private:
  void Apply(int fd, int events) {
    if (events & kRead) FD_SET(fd, &read_set_); else FD_CLR(fd, &read_set_);
    if (events & kWrite) FD_SET(fd, &write_set_); else FD_CLR(fd, &write_set_);
  }

  // select fails as a whole with EBADF when one registered fd was closed without being removed
  // (binding.close removes its own fds first, so only foreign fds get here). Name the culprits
  // as ERROR, as poll does with POLLNVAL, instead of failing every later wait.
  int ReportClosed(int32_t* out, int capacity) {
    int n = 0;
    for (int fd = 0; fd <= max_fd_ && n < capacity; ++fd) {
      if (registry_.Has(fd) && !FdIsOpen(fd)) {
        out[2 * n] = fd;
        out[2 * n + 1] = kError;
        ++n;
      }
    }
    return n;
  }

  fd_set read_set_;
  fd_set write_set_;
  int max_fd_ = -1;
};

}  // namespace

std::unique_ptr<Poller> CreateSelectPoller(int* err) {
  (void)err;
  return std::make_unique<SelectPoller>();
}

}  // namespace evloop
