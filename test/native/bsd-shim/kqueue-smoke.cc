// native/poller_kqueue.cc run through poller.h's contract on Linux, over the poll(2) emulation
// of kqueue()/kevent() beside this file (built and run by test/native/kqueue-compile.test.js).
// It exercises the backend's own logic — the registry, the filter changes, merging a fd's two
// events into one [fd, events] pair, the event bits, timeouts, close — against the documented
// kqueue semantics the emulation follows; it says nothing about a BSD kernel's behaviour.
// Prints "ok" and exits 0, or names the failed check and exits 1.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "poller.h"

extern int evloop_emulation_refuse_write_fd;  // kqueue-emulation.cc

namespace {

int failures = 0;

#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond)) {                                                            \
      std::fprintf(stderr, "kqueue-smoke.cc:%d: failed: %s\n", __LINE__, #cond); \
      ++failures;                                                             \
    }                                                                         \
  } while (0)

using evloop::kCapacity;
using evloop::kError;
using evloop::kHup;
using evloop::kRead;
using evloop::kWrite;

int32_t out[2 * kCapacity];

// The events Wait reported for fd, or -1 when it reported nothing for it (or twice).
int EventsFor(int n, int fd) {
  int found = -1;
  for (int i = 0; i < n; ++i) {
    if (out[2 * i] != fd) continue;
    if (found != -1) return -1;
    found = out[2 * i + 1];
  }
  return found;
}

void Pair(int fds[2]) {
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == -1) {
    std::perror("socketpair");
    std::exit(1);
  }
}

}  // namespace

int main() {
  int err = 0;
  std::unique_ptr<evloop::Poller> p = evloop::CreateKqueuePoller(&err);
  CHECK(p != nullptr);
  if (!p) return 1;
  CHECK(std::strcmp(p->Name(), "kqueue") == 0);
  CHECK(p->Fd() >= 0);
  CHECK(p->Wait(out, kCapacity, 0) == 0);

  int a[2];
  Pair(a);
  // Registration: EEXIST, ENOENT, EBADF as poller.h says.
  CHECK(p->Add(a[0], kRead | kWrite) == 0);
  CHECK(p->Add(a[0], kRead) == EEXIST);
  CHECK(p->Modify(a[1], kRead) == ENOENT);
  CHECK(p->Remove(a[1]) == ENOENT);
  CHECK(p->Size() == 1);
  int closed[2];
  Pair(closed);
  close(closed[0]);
  close(closed[1]);
  CHECK(p->Add(closed[0], kRead) == EBADF);
  CHECK(p->Size() == 1);

  // Writable only; then readable too: the two filters' events come back as one pair.
  int n = p->Wait(out, kCapacity, 0);
  CHECK(n == 1 && EventsFor(n, a[0]) == kWrite);
  CHECK(write(a[1], "x", 1) == 1);
  n = p->Wait(out, kCapacity, 0);
  CHECK(n == 1 && EventsFor(n, a[0]) == (kRead | kWrite));

  // Modify drops the write filter and keeps the read one; level-triggered, so it is still there.
  CHECK(p->Modify(a[0], kRead) == 0);
  n = p->Wait(out, kCapacity, 0);
  CHECK(n == 1 && EventsFor(n, a[0]) == kRead);
  char buf[16];
  CHECK(read(a[0], buf, sizeof(buf)) == 1);
  CHECK(p->Wait(out, kCapacity, 0) == 0);
  CHECK(p->Modify(a[0], kWrite) == 0);  // READ -> WRITE: one addition, one deletion
  n = p->Wait(out, kCapacity, 0);
  CHECK(n == 1 && EventsFor(n, a[0]) == kWrite);
  CHECK(p->Modify(a[0], kRead) == 0);

  // A modify the kernel refuses changes nothing: READ -> WRITE fails on the write filter, and
  // the read filter is still there and still reported.
  CHECK(write(a[1], "r", 1) == 1);
  evloop_emulation_refuse_write_fd = a[0];
  CHECK(p->Modify(a[0], kWrite) == EPIPE);
  CHECK(p->Modify(a[0], kRead | kWrite) == EPIPE);
  evloop_emulation_refuse_write_fd = -1;
  CHECK(p->Size() == 1);
  n = p->Wait(out, kCapacity, 0);
  CHECK(n == 1 && EventsFor(n, a[0]) == kRead);
  CHECK(read(a[0], buf, sizeof(buf)) == 1);

  // A timed wait with nothing ready returns 0, and not before its deadline.
  auto start = std::chrono::steady_clock::now();
  CHECK(p->Wait(out, kCapacity, 30) == 0);
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(30));

  // A wait with no deadline returns when another thread makes the fd readable (in either order:
  // readiness is level-triggered, so a write before the wait is seen too). Not after a failure:
  // a lost filter would make it wait forever.
  if (failures != 0) return 1;
  std::thread writer([&] { CHECK(write(a[1], "y", 1) == 1); });
  n = p->Wait(out, kCapacity, -1);
  writer.join();
  CHECK(n == 1 && EventsFor(n, a[0]) == kRead);
  CHECK(read(a[0], buf, sizeof(buf)) == 1);

  // Many fds in one batch, one pair each.
  int b[2], c[2];
  Pair(b);
  Pair(c);
  CHECK(p->Add(b[0], kWrite) == 0);
  CHECK(p->Add(c[0], kRead | kWrite) == 0);
  CHECK(write(c[1], "z", 1) == 1);
  n = p->Wait(out, kCapacity, 0);
  CHECK(n == 2);
  CHECK(EventsFor(n, b[0]) == kWrite);
  CHECK(EventsFor(n, c[0]) == (kRead | kWrite));
  CHECK(EventsFor(n, a[0]) == -1);
  n = p->Wait(out, 1, 0);  // a smaller capacity is honoured
  CHECK(n == 1);

  // The peer's FIN is READ|HUP.
  close(a[1]);
  n = p->Wait(out, kCapacity, 0);
  CHECK(EventsFor(n, a[0]) == (kRead | kHup));
  CHECK((EventsFor(n, a[0]) & kError) == 0);

  // Remove, twice; and removing a registered fd that was closed meanwhile succeeds.
  CHECK(p->Remove(a[0]) == 0);
  CHECK(p->Remove(a[0]) == ENOENT);
  close(b[0]);
  CHECK(p->Remove(b[0]) == 0);
  CHECK(p->Size() == 1);
  n = p->Wait(out, kCapacity, 0);
  CHECK(n == 1 && EventsFor(n, c[0]) == (kRead | kWrite));

  // Close: the kqueue fd is released and every registration forgotten; idempotent.
  p->Close();
  CHECK(p->Fd() == -1);
  CHECK(p->Size() == 0);
  CHECK(p->Wait(out, kCapacity, 0) == -EBADF);
  p->Close();

  close(a[0]);
  close(b[1]);
  close(c[0]);
  close(c[1]);
  if (failures != 0) return 1;
  std::puts("ok");
  return 0;
}
