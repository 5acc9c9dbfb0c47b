// poll(2) backend: portable, no fd limit, no kernel object. The pollfd array is kept between
// calls (slot 0 reserved for the helper thread's wake fd) so a wait costs no allocation.
#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include "poller.h"

namespace evloop {
namespace {

short ToPoll(int events) {
  short e = 0;
#if defined(POLLRDHUP)
  // A peer's FIN shows as HUP next to READ, as with epoll's EPOLLRDHUP.
  if (events & kRead) e |= POLLIN | POLLRDHUP;
#else
  if (events & kRead) e |= POLLIN;
#endif
  if (events & kWrite) e |= POLLOUT;
  return e;
}

int FromPoll(short e) {
  int events = 0;
  if (e & (POLLIN | POLLPRI)) events |= kRead;
  if (e & POLLOUT) events |= kWrite;
  if (e & (POLLERR | POLLNVAL)) events |= kError;
#if defined(POLLRDHUP)
  if (e & (POLLHUP | POLLRDHUP)) events |= kHup;
#else
  if (e & POLLHUP) events |= kHup;
#endif
  return events;
}

class PollPoller final : public Poller {
 public:
  PollPoller() { pollfds_.push_back({-1, 0, 0}); }

  const char* Name() const override { return "poll"; }
  int Fd() const override { return -1; }

  int Add(int fd, int events) override {
    if (registry_.Has(fd)) return EEXIST;
    if (!FdIsOpen(fd)) return EBADF;
    if (static_cast<size_t>(fd) >= slot_.size()) slot_.resize(static_cast<size_t>(fd) + 64, 0);
    slot_[fd] = static_cast<int>(pollfds_.size());
    pollfds_.push_back({fd, ToPoll(events), 0});
    registry_.Set(fd, events);
    return 0;
  }

  int Modify(int fd, int events) override {
    if (!registry_.Has(fd)) return ENOENT;
    pollfds_[slot_[fd]].events = ToPoll(events);
    registry_.Set(fd, events);
    return 0;
  }

  int Remove(int fd) override {
    if (!registry_.Has(fd)) return ENOENT;
    int index = slot_[fd];
    int last = static_cast<int>(pollfds_.size()) - 1;
    if (index != last) {
      pollfds_[index] = pollfds_[last];
      slot_[pollfds_[index].fd] = index;
    }
    pollfds_.pop_back();
    slot_[fd] = 0;
    registry_.Erase(fd);
    return 0;
  }

  int Wait(int32_t* out, int capacity, int timeout_ms) override {
    nfds_t count = pollfds_.size() - 1;
    if (count == 0 && timeout_ms == 0) return 0;
    int r = poll(pollfds_.data() + 1, count, timeout_ms);
    if (r == -1) return errno == EINTR ? 0 : -errno;
    if (r == 0) return 0;
    // Start the scan where the last full batch stopped, so with more ready fds than `capacity`
    // none waits forever behind the first ones.
    int n = 0;
    size_t total = count;
    if (cursor_ >= total) cursor_ = 0;
    for (size_t k = 0; k < total && n < capacity; ++k) {
      size_t i = 1 + (cursor_ + k) % total;
      if (pollfds_[i].revents != 0) {
        out[2 * n] = pollfds_[i].fd;
        out[2 * n + 1] = FromPoll(pollfds_[i].revents);
        ++n;
        if (n == capacity) cursor_ = (cursor_ + k + 1) % total;
      }
    }
    return n;
  }

  void Snapshot(WaitSnapshot* snapshot) const override {
    snapshot->pollfds.assign(pollfds_.begin(), pollfds_.end());
  }

  int BlockOnSnapshot(WaitSnapshot* snapshot, int wake_fd, bool* woken) const override {
    std::vector<struct pollfd>& fds = snapshot->pollfds;
    fds[0].fd = wake_fd;
    fds[0].events = POLLIN;
    fds[0].revents = 0;
    int r = poll(fds.data(), fds.size(), -1);
    if (r == -1) {
      *woken = false;
      return errno == EINTR ? 0 : -errno;
    }
    *woken = fds[0].revents != 0;
    return *woken ? r - 1 : r;
  }

  void Close() override {
    pollfds_.resize(1);
    slot_.clear();
    registry_ = Registry();
  }

 private:
  std::vector<struct pollfd> pollfds_;  // [0] = wake slot (fd -1 here: poll ignores it)
  std::vector<int> slot_;               // fd -> index into pollfds_
  size_t cursor_ = 0;
};

}  // namespace

std::unique_ptr<Poller> CreatePollPoller(int* err) {
  (void)err;
  return std::make_unique<PollPoller>();
}

}  // namespace evloop
