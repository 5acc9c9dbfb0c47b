// The batch's read and send without glibc's cancellation-point wrappers.
// read() and send() are pthread cancellation points: glibc brackets each syscall with
// __pthread_enable_asynccancel / __pthread_disable_asynccancel, ~30 instructions apiece, one
// pair per echoed message on each side (callgrind). Nothing in Node cancels its threads, so on
// Linux the hot paths make the same syscall through syscall(2), which is not a cancellation point.
// Same return and errno convention as the libc calls.
#ifndef EVLOOP_NOCANCEL_H_
#define EVLOOP_NOCANCEL_H_

#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

namespace evloop {

inline ssize_t ReadNoCancel(int fd, void* buf, size_t length) {
#if defined(__linux__)
  return static_cast<ssize_t>(syscall(SYS_read, fd, buf, length));
#else
  return ::read(fd, buf, length);
#endif
}

inline ssize_t SendNoCancel(int fd, const void* buf, size_t length, int flags) {
#if defined(__linux__) && defined(SYS_sendto)
  return static_cast<ssize_t>(syscall(SYS_sendto, fd, buf, length, flags, nullptr, 0));
#else
  return ::send(fd, buf, length, flags);
#endif
}

}  // namespace evloop

#endif  // EVLOOP_NOCANCEL_H_
