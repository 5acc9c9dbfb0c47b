// Child processes and pipes. A child is started with posix_spawn (glibc: clone(CLONE_VM |
// CLONE_VFORK), so the calling thread pauses only until the child has exec'd, and an exec
// failure such as ENOENT comes back as spawn's own error). Its exit becomes a readiness fd the
// loop polls (Linux: pidfd_open), so nothing blocks and no SIGCHLD handler is installed: Node's
// own child_process keeps its handler and its children, and this file only ever reaps the pids
// it spawned, one pid at a time (waitpid(pid, WNOHANG); never waitpid(-1)).
//
// Every fd made here is close-on-exec from the moment it exists (pipe2 / pidfd_open), so
// concurrent spawns — ours, Node's, a worker's — never inherit one. The child's stdio ends are
// dup2'd onto 0/1/2 by the spawn's file actions, which clears close-on-exec on the copies only.
// The parent's pipe ends are non-blocking; the child's are not (a child expects blocking stdio).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "addon.h"
#include "errors.h"

extern char** environ;

namespace evloop {
namespace {

// Stdio codes from JS (a non-negative number is an fd to hand to the child as is).
constexpr int kStdioPipe = -1;
constexpr int kStdioInherit = -2;
constexpr int kStdioIgnore = -3;     // /dev/null
constexpr int kStdioToStdout = -4;   // stderr only: the same pipe/file as stdout

template <typename Call>
inline auto RetryOnEintr(Call call) -> decltype(call()) {
  decltype(call()) result;
  do {
    result = call();
  } while (result == -1 && errno == EINTR);
  return result;
}

inline bool WouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

inline Napi::Value IoResult(napi_env env, ssize_t n, const char* syscall) {
  if (n == -1 && !WouldBlock(errno)) ThrowErrno(Napi::Env(env), errno, syscall);
  return Napi::Number::New(env, static_cast<double>(n));
}

// Closes fds without touching errno-carrying state the caller still needs.
struct FdGuard {
  std::vector<int> fds;
  ~FdGuard() {
    int saved = errno;
    for (int fd : fds) close(fd);
    errno = saved;
  }
};

// A close-on-exec pipe. 0 or errno.
int MakePipe(int fds[2]) {
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
  if (pipe2(fds, O_CLOEXEC) == -1) return errno;
  return 0;
#else
  if (pipe(fds) == -1) return errno;
  for (int i = 0; i < 2; ++i) {
    if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) == -1) {
      int err = errno;
      close(fds[0]);
      close(fds[1]);
      return err;
    }
  }
  return 0;
#endif
}

int SetNonBlock(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags == -1) return errno;
  if ((flags & O_NONBLOCK) == 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) return errno;
  return 0;
}

// Moves a child-side fd above 2, so the dup2s onto 0/1/2 can never clobber one another (when the
// parent runs with a closed stdin, a fresh pipe may well be fd 0). The result is close-on-exec.
int AboveStdio(int fd) {
  if (fd > 2) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int err = errno;
  close(fd);
  if (moved == -1) errno = err;
  return moved;
}

// A JS string without NUL bytes (exec would silently cut it there).
std::string ArgCString(napi_env env, napi_value value, const char* name) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, nullptr, 0, &len) != napi_ok) {
    ThrowTypeError(Napi::Env(env), "ERR_INVALID_ARG_TYPE",
                   std::string("The \"") + name + "\" argument must be of type string");
  }
  std::string s(len, '\0');
  napi_get_value_string_utf8(env, value, &s[0], len + 1, &len);
  if (std::strlen(s.c_str()) != len) {
    ThrowTypeError(Napi::Env(env), "ERR_INVALID_ARG_VALUE",
                   std::string("The \"") + name + "\" argument must not contain null bytes");
  }
  return s;
}

std::vector<std::string> ArgStringArray(napi_env env, napi_value value, const char* name) {
  bool is_array = false;
  if (napi_is_array(env, value, &is_array) != napi_ok || !is_array) {
    ThrowTypeError(Napi::Env(env), "ERR_INVALID_ARG_TYPE",
                   std::string("The \"") + name + "\" argument must be an Array of strings");
  }
  uint32_t count = 0;
  napi_get_array_length(env, value, &count);
  std::vector<std::string> out;
  out.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    napi_value element;
    napi_get_element(env, value, i, &element);
    out.push_back(ArgCString(env, element, name));
  }
  return out;
}

std::vector<char*> CStringArray(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(&s[0]);
  out.push_back(nullptr);
  return out;
}

// execvp's search, done before the spawn so that a missing program costs no clone: the first
// PATH entry holding an executable regular file wins. PATH is the child's (env) when given, as
// Node and Python do. Returns 0 and the path, or ENOENT / EACCES.
int ResolveProgram(const std::string& file, char* const* envp, std::string* out) {
  if (file.empty()) return ENOENT;
  if (file.find('/') != std::string::npos) {
    *out = file;
    return 0;
  }
  const char* path = nullptr;
  for (char* const* e = envp; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "PATH=", 5) == 0) {
      path = *e + 5;
      break;
    }
  }
  if (path == nullptr) path = "/usr/local/bin:/bin:/usr/bin";
  int result = ENOENT;
  const char* p = path;
  while (true) {
    const char* end = std::strchr(p, ':');
    size_t len = end != nullptr ? static_cast<size_t>(end - p) : std::strlen(p);
    std::string candidate = len == 0 ? std::string(".") : std::string(p, len);
    candidate += '/';
    candidate += file;
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (access(candidate.c_str(), X_OK) == 0) {
        *out = candidate;
        return 0;
      }
      result = EACCES;  // as execvp: remember it, keep looking
    }
    if (end == nullptr) break;
    p = end + 1;
  }
  return result;
}

#if defined(__linux__)
int PidfdOpen(pid_t pid) {
#if defined(SYS_pidfd_open)
  // Close-on-exec by definition; readable once the process has exited.
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  errno = ENOSYS;
  return -1;
#endif
}

int PidfdSendSignal(int pidfd, int sig) {
#if defined(SYS_pidfd_send_signal)
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
#else
  errno = ENOSYS;
  return -1;
#endif
}
#endif

// waitpid's status as asyncio's returncode: the exit code, or -signal.
int ReturnCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return 255;
}

}  // namespace

void EvloopAddon::SweepOrphans() {
  std::vector<int> rest;
  for (int pid : orphans_) {
    int status;
    pid_t r = RetryOnEintr([&] { return waitpid(pid, &status, WNOHANG); });
    if (r == 0) rest.push_back(pid);  // still running; ECHILD or reaped: forget it
  }
  orphans_.swap(rest);
}

Napi::Value EvloopAddon::Pipe(const Napi::CallbackInfo& info) {
  int fds[2];
  int err = MakePipe(fds);
  if (err == 0 && ((err = SetNonBlock(fds[0])) != 0 || (err = SetNonBlock(fds[1])) != 0)) {
    close(fds[0]);
    close(fds[1]);
  }
  if (err != 0) ThrowErrno(info.Env(), err, "pipe");
  Own(fds[0], kPipe);
  Own(fds[1], kPipe);
  Napi::Array result = Napi::Array::New(info.Env(), 2);
  result.Set(0u, Napi::Number::New(info.Env(), fds[0]));
  result.Set(1u, Napi::Number::New(info.Env(), fds[1]));
  return result;
}

Napi::Value EvloopAddon::OwnPipe(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int fd = ArgFd(env, info[0]);
  if (Kind(fd) != kNotOwned) return Napi::Number::New(env, fd);
  struct stat st;
  if (fstat(fd, &st) == -1) ThrowErrno(info.Env(), errno, "fstat");
  if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode) && !S_ISCHR(st.st_mode)) {
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_VALUE",
                   "The \"fd\" argument must be a pipe, socket or character device. Received " +
                       std::to_string(fd));
  }
  int err = SetNonBlockCloexec(fd);
  if (err != 0) ThrowErrno(info.Env(), err, "fcntl");
  Own(fd, kPipe);
  return Napi::Number::New(env, fd);
}

Napi::Value EvloopAddon::Read(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int fd = ArgFd(env, info[0]);
  RequireOwned(env, fd, "read");
  uint8_t* data;
  size_t size, offset, length;
  ArgBytes(env, info[1], "buf", &data, &size);
  ArgWindow(env, info[2], info[3], size, &offset, &length);
  ssize_t n = RetryOnEintr([&] { return read(fd, data + offset, length); });
  return IoResult(env, n, "read");
}

Napi::Value EvloopAddon::Write(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int fd = ArgFd(env, info[0]);
  RequireOwned(env, fd, "write");
  uint8_t* data;
  size_t size, offset, length;
  ArgBytes(env, info[1], "buf", &data, &size);
  ArgWindow(env, info[2], info[3], size, &offset, &length);
  // Node ignores SIGPIPE process-wide, so a vanished reader is EPIPE here, never a signal.
  ssize_t n = RetryOnEintr([&] { return write(fd, data + offset, length); });
  return IoResult(env, n, "write");
}

// spawn(file, args, env | null, cwd | null, [stdin, stdout, stderr])
//   → [pid, pidfd, stdinFd, stdoutFd, stderrFd] (pidfd -1 where the platform has none; -1 for
//   every stdio that is not a pipe). args includes argv[0].
Napi::Value EvloopAddon::Spawn(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  std::string file = ArgCString(env, info[0], "file");
  std::vector<std::string> args = ArgStringArray(env, info[1], "args");
  bool own_env = !IsUndefinedOrNull(env, info[2]);
  std::vector<std::string> env_strings;
  if (own_env) env_strings = ArgStringArray(env, info[2], "env");
  bool has_cwd = !IsUndefinedOrNull(env, info[3]);
  std::string cwd;
  if (has_cwd) cwd = ArgCString(env, info[3], "cwd");
  bool is_array = false;
  uint32_t stdio_len = 0;
  if (napi_is_array(env, info[4], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, info[4], &stdio_len) != napi_ok || stdio_len != 3) {
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                   "The \"stdio\" argument must be an Array of 3 numbers");
  }
  int stdio[3];
  for (uint32_t i = 0; i < 3; ++i) {
    napi_value element;
    napi_get_element(env, info[4], i, &element);
    stdio[i] = static_cast<int>(ArgInt(env, element, "stdio", kStdioToStdout, INT32_MAX));
    if (stdio[i] == kStdioToStdout && i != 2) {
      ThrowTypeError(info.Env(), "ERR_INVALID_ARG_VALUE",
                     "Only stderr can be redirected to stdout");
    }
  }

  SweepOrphans();

  std::vector<char*> argv = CStringArray(args);
  std::vector<char*> envp_own;
  if (own_env) envp_own = CStringArray(env_strings);
  char* const* envp = own_env ? envp_own.data() : environ;

  std::string program;
  int err = ResolveProgram(file, envp, &program);
  if (err != 0) ThrowErrno(info.Env(), err, "spawn");
  if (has_cwd) {
    // Checked here so that a bad cwd is reported as what it is, not as the program's ENOENT.
    struct stat st;
    if (stat(cwd.c_str(), &st) == -1) ThrowErrno(info.Env(), errno, "chdir");
    if (!S_ISDIR(st.st_mode)) ThrowErrno(info.Env(), ENOTDIR, "chdir");
  }

  FdGuard parent_ends;  // closed on failure; kept on success
  FdGuard child_ends;   // always closed once the child has its copies
  int parent_fd[3] = {-1, -1, -1};
  int child_fd[3] = {-1, -1, -1};
  for (int i = 0; i < 3; ++i) {
    if (stdio[i] != kStdioPipe) continue;
    int fds[2];
    if ((err = MakePipe(fds)) != 0) ThrowErrno(info.Env(), err, "pipe");
    int parent = i == 0 ? fds[1] : fds[0];
    int child = i == 0 ? fds[0] : fds[1];
    parent_ends.fds.push_back(parent);
    child = AboveStdio(child);
    if (child == -1) ThrowErrno(info.Env(), errno, "fcntl");
    child_ends.fds.push_back(child);
    if ((err = SetNonBlock(parent)) != 0) ThrowErrno(info.Env(), err, "fcntl");
    parent_fd[i] = parent;
    child_fd[i] = child;
  }

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  // The child starts with every signal at its default and none blocked: Node ignores SIGPIPE,
  // and an ignored signal would otherwise survive exec (a `yes | head` would never end).
  sigset_t all, none;
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  for (int i = 0; i < 3 && err == 0; ++i) {
    if (stdio[i] == kStdioPipe) {
      err = posix_spawn_file_actions_adddup2(&actions, child_fd[i], i);
    } else if (stdio[i] == kStdioIgnore) {
      err = posix_spawn_file_actions_addopen(&actions, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
    } else if (stdio[i] == kStdioToStdout) {
      err = posix_spawn_file_actions_adddup2(&actions, 1, 2);
    } else if (stdio[i] >= 0) {
      err = posix_spawn_file_actions_adddup2(&actions, stdio[i], i);
    } else if (stdio[i] == kStdioInherit) {
      // Our own 0/1/2 may be close-on-exec (they are under some supervisors): dup2 onto itself
      // clears the flag in the child only (glibc 2.29+, as POSIX 2024 specifies).
      err = posix_spawn_file_actions_adddup2(&actions, i, i);
    }
  }
  if (err == 0 && has_cwd) {
#if defined(__GLIBC__) || defined(__APPLE__)
    err = posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
#else
    err = ENOSYS;
#endif
  }
  pid_t pid = -1;
  if (err == 0) {
    err = posix_spawn(&pid, program.c_str(), &actions, &attr, argv.data(), envp);
  }
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) ThrowErrno(info.Env(), err, "spawn");

  int pidfd = -1;
#if defined(__linux__)
  // No race: the child stays a zombie until we reap it, so its pid cannot be reused first.
  pidfd = PidfdOpen(pid);
  // ENOSYS (kernel < 5.3) or a seccomp filter: pidfd -1, and the JS layer polls waitChild.
#endif

  parent_ends.fds.clear();
  for (int i = 0; i < 3; ++i) {
    if (parent_fd[i] >= 0) Own(parent_fd[i], kPipe);
  }
  if (pidfd >= 0) Own(pidfd, kPidfd);
  children_[pid] = pidfd;

  Napi::Array result = Napi::Array::New(info.Env(), 5);
  result.Set(0u, Napi::Number::New(info.Env(), pid));
  result.Set(1u, Napi::Number::New(info.Env(), pidfd));
  for (uint32_t i = 0; i < 3; ++i) {
    result.Set(i + 2, Napi::Number::New(info.Env(), parent_fd[i]));
  }
  return result;
}

// waitChild(pid) → null while running, else the returncode (exit code, or -signal). Only pids
// spawn() returned and not yet reaped: anything else is ECHILD.
Napi::Value EvloopAddon::WaitChild(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int pid = static_cast<int>(ArgInt(env, info[0], "pid", 1, INT32_MAX));
  auto it = children_.find(pid);
  if (it == children_.end()) ThrowErrno(info.Env(), ECHILD, "waitpid");
  int status = 0;
  pid_t r = RetryOnEintr([&] { return waitpid(pid, &status, WNOHANG); });
  if (r == 0) return info.Env().Null();
  children_.erase(it);
  // ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN, or a waitpid(-1) elsewhere).
  if (r == -1) ThrowErrno(info.Env(), errno, "waitpid");
  return Napi::Number::New(env, ReturnCode(status));
}

// killChild(pid, signal): a live child of ours only; once reaped, ESRCH (its pid may already
// belong to someone else).
Napi::Value EvloopAddon::KillChild(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int pid = static_cast<int>(ArgInt(env, info[0], "pid", 1, INT32_MAX));
  int sig = static_cast<int>(ArgInt(env, info[1], "signal", 0, 64));
  auto it = children_.find(pid);
  if (it == children_.end()) ThrowErrno(info.Env(), ESRCH, "kill");
  int r = -1;
#if defined(__linux__)
  if (it->second >= 0 && Kind(it->second) == kPidfd) {
    r = PidfdSendSignal(it->second, sig);
    if (r == -1 && errno != ENOSYS) ThrowErrno(info.Env(), errno, "kill");
  }
#endif
  // Unreaped, so the pid is still this child's.
  if (r == -1 && kill(pid, sig) == -1) ThrowErrno(info.Env(), errno, "kill");
  return info.Env().Undefined();
}

// releaseChild(pid): the caller stops watching a child that may still run (loop closed). It is
// not killed; it is reaped without blocking at the next spawn and at teardown, so it does not
// stay a zombie for long.
Napi::Value EvloopAddon::ReleaseChild(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int pid = static_cast<int>(ArgInt(env, info[0], "pid", 1, INT32_MAX));
  auto it = children_.find(pid);
  if (it == children_.end()) return info.Env().Undefined();
  children_.erase(it);
  orphans_.push_back(pid);
  SweepOrphans();
  return info.Env().Undefined();
}

}  // namespace evloop
