// The batch's read and send without glibc's cancellation-point wrappers.
// read() and send() are pthread cancellation points: glibc brackets each syscall with
// __pthread_enable_asynccancel / __pthread_disable_asynccancel, ~30 instructions apiece, one
// pair per echoed message on each side (callgrind). Nothing in Node cancels its threads, so on
// Linux the hot paths make the same syscall directly, which is not a cancellation point: on
// x86-64 the `syscall` instruction inline, elsewhere syscall(2). Inline, a batch's loop keeps its
// values in registers across the call (the kernel clobbers only rcx and r11) and skips the libc
// wrapper's shuffle of six arguments: ~20 instructions less per read and per send (callgrind,
// protocol echo 64x1).
// Same return and errno convention as the libc calls.
#ifndef EVLOOP_NOCANCEL_H_
#define EVLOOP_NOCANCEL_H_

#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

namespace evloop {

#if defined(__linux__) && defined(__x86_64__)
// The kernel's convention: a result in [-4095, -1] is -errno.
inline ssize_t SyscallResult(long r) {
  if (r < 0 && r > -4096) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return static_cast<ssize_t>(r);
}

inline ssize_t ReadNoCancel(int fd, void* buf, size_t length) {
  long r;
  __asm__ volatile("syscall"
                   : "=a"(r)
                   : "a"(static_cast<long>(SYS_read)), "D"(static_cast<long>(fd)), "S"(buf), "d"(length)
                   : "rcx", "r11", "memory");
  return SyscallResult(r);
}

inline ssize_t SendNoCancel(int fd, const void* buf, size_t length, int flags) {
  long r;
  register long r10 __asm__("r10") = flags;
  register long r8 __asm__("r8") = 0;  // no address (a connected socket)
  register long r9 __asm__("r9") = 0;
  __asm__ volatile("syscall"
                   : "=a"(r)
                   : "a"(static_cast<long>(SYS_sendto)), "D"(static_cast<long>(fd)), "S"(buf), "d"(length),
                     "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return SyscallResult(r);
}
#else
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
#endif

}  // namespace evloop

#endif  // EVLOOP_NOCANCEL_H_
