// Per-instance state of the addon. Each Node environment (the main thread and every worker)
// gets its own EvloopAddon through Napi::Addon / instance data: nothing here is static, so the
// addon loads in any number of threads at once.
#pragma once

#include <napi.h>
#include <uv.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "poller.h"

namespace evloop {

class PollerWrap;

// What the addon remembers per owned fd (0 = not ours): a socket's family, or a pipe / pidfd.
enum OwnedKind : uint8_t { kNotOwned = 0, kInet = 1, kInet6 = 2, kUnix = 3, kPipe = 4, kPidfd = 5 };

class EvloopAddon : public Napi::Addon<EvloopAddon> {
 public:
  EvloopAddon(Napi::Env env, Napi::Object exports);
  ~EvloopAddon();

  // Owned fds: a vector indexed by fd so the check on every socket call is one load.
  uint8_t Kind(int fd) const {
    return static_cast<size_t>(fd) < owned_.size() ? owned_[fd] : uint8_t{kNotOwned};
  }
  void Own(int fd, uint8_t kind);
  void Disown(int fd) {
    if (static_cast<size_t>(fd) < owned_.size()) owned_[fd] = kNotOwned;
  }
  // Throws EBADF (syscall `syscall`) unless fd is one this instance created and still holds.
  uint8_t RequireOwned(napi_env env, int fd, const char* syscall) const;

  void AddPoller(PollerWrap* poller) { pollers_.push_back(poller); }
  void RemovePoller(PollerWrap* poller);
  // Drops fd from every live poller of this instance (binding.close does it before close(2)).
  void ForgetFd(int fd);

  Napi::FunctionReference poller_constructor;

 private:
  // Sockets (sockets.cc).
  Napi::Value Socket(const Napi::CallbackInfo& info);
  Napi::Value SocketPair(const Napi::CallbackInfo& info);
  Napi::Value Bind(const Napi::CallbackInfo& info);
  Napi::Value BindUnix(const Napi::CallbackInfo& info);
  Napi::Value Listen(const Napi::CallbackInfo& info);
  Napi::Value Accept(const Napi::CallbackInfo& info);
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value ConnectUnix(const Napi::CallbackInfo& info);
  Napi::Value FinishConnect(const Napi::CallbackInfo& info);
  Napi::Value Recv(const Napi::CallbackInfo& info);
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Writev(const Napi::CallbackInfo& info);
  Napi::Value SendBatch(const Napi::CallbackInfo& info);
  Napi::Value SendTo(const Napi::CallbackInfo& info);
  Napi::Value RecvFrom(const Napi::CallbackInfo& info);
  Napi::Value Shutdown(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value SetSockOpt(const Napi::CallbackInfo& info);
  Napi::Value GetSockOpt(const Napi::CallbackInfo& info);
  Napi::Value GetSockName(const Napi::CallbackInfo& info);
  Napi::Value GetPeerName(const Napi::CallbackInfo& info);
  Napi::Value ErrName(const Napi::CallbackInfo& info);
  Napi::Value ErrnoErrorValue(const Napi::CallbackInfo& info);

  // Pipes and child processes (process.cc).
  Napi::Value Pipe(const Napi::CallbackInfo& info);
  Napi::Value OwnPipe(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Spawn(const Napi::CallbackInfo& info);
  Napi::Value WaitChild(const Napi::CallbackInfo& info);
  Napi::Value KillChild(const Napi::CallbackInfo& info);
  Napi::Value ReleaseChild(const Napi::CallbackInfo& info);
  // V8's continuation-preserved embedder data, when the running node has it (context_data.cc).
  Napi::Value ContextData(const Napi::CallbackInfo& info);

  // Reaps, without blocking, the released children that have exited.
  void SweepOrphans();

  // Runs when the environment is torn down (worker terminated, process exiting): stops every
  // poller (joins helper threads, closes uv handles), closes poller fds and every owned fd.
  static void CleanupHook(void* arg);
  void Teardown();

  napi_env env_;
  bool hook_installed_ = false;
  bool torn_down_ = false;
  std::vector<uint8_t> owned_;
  std::vector<PollerWrap*> pollers_;
  // Children spawned and not yet reaped: pid -> pidfd (-1 without pidfds). Only these pids are
  // ever waited for or signalled.
  std::unordered_map<int, int> children_;
  std::vector<int> orphans_;  // released while running: reaped by SweepOrphans
};

// The JS class Poller: one backend plus its libuv integration.
class PollerWrap : public Napi::ObjectWrap<PollerWrap> {
 public:
  static Napi::Function Define(Napi::Env env);

  explicit PollerWrap(const Napi::CallbackInfo& info);
  ~PollerWrap() override;

  // binding.close(fd): drop the registration before the fd number can be reused.
  void ForgetFd(int fd);
  // Environment teardown or close(): stop everything, release every resource. Idempotent, and
  // never calls into JS.
  void Shutdown();
  void DetachAddon() {
    addon_ = nullptr;
    env_torn_down_ = true;
  }

 private:
  Napi::Value GetBackend(const Napi::CallbackInfo& info);
  Napi::Value GetEvents(const Napi::CallbackInfo& info);
  Napi::Value GetCapacity(const Napi::CallbackInfo& info);
  Napi::Value GetSize(const Napi::CallbackInfo& info);
  Napi::Value GetReads(const Napi::CallbackInfo& info);
  Napi::Value SetReadSlab(const Napi::CallbackInfo& info);
  Napi::Value Add(const Napi::CallbackInfo& info);
  Napi::Value Modify(const Napi::CallbackInfo& info);
  Napi::Value Remove(const Napi::CallbackInfo& info);
  Napi::Value Wait(const Napi::CallbackInfo& info);
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value CloseMethod(const Napi::CallbackInfo& info);

  void RequireOpen(napi_env env) const;
  int RegisterArgs(const Napi::CallbackInfo& info, bool with_events, int* events);
  template <typename Change>
  Napi::Value ChangeInterest(napi_env env, Change change);
  // The batch arrays' memory, or nullptr once JS detached their buffer (transferred it away).
  int32_t* EventsBuffer(napi_env env);
  int32_t* ReadsBuffer(napi_env env);
  bool Detached(napi_env env, const Napi::Reference<Napi::ArrayBuffer>& ref) const;
  bool SlabLive(napi_env env) const;
  // Registration with kAutoRead: the backend gets the READ|WRITE part, the wrapper keeps the flag.
  int ApplyInterest(int fd, int events, bool add);
  void SetAutoRead(int fd, bool on);
  bool AutoRead(int fd) const {
    return static_cast<size_t>(fd) < auto_read_.size() && auto_read_[fd] != 0;
  }
  // After a Wait of n entries: reads every ready auto-read fd once into the slab and fills
  // `.reads` (offset, length) for each entry. JS thread only; never calls into JS.
  void ReadBatch(int32_t* out, int n);
  // Keeps the libuv handle ref'd exactly while started and something is registered.
  void UpdateRef();
  void StopDelivery();

  // Delivery: one JS call per ready batch.
  static void OnPollReady(uv_poll_t* handle, int status, int events);
  static void OnAsync(uv_async_t* handle);
  void Deliver();
  bool CallJs(int n);

  // Helper thread for fd-less backends.
  int EnsureHelper();
  void HelperMain();
  void WakeHelper();  // with mu_ held
  void StopHelper();

  EvloopAddon* addon_;
  napi_env env_;
  std::unique_ptr<Poller> backend_;
  bool closed_ = false;
  bool started_ = false;
  bool in_callback_ = false;
  bool self_ref_ = false;
  bool env_torn_down_ = false;  // no napi calls from the destructor once the env is going

  // `.events` and `.reads` are two views of one ArrayBuffer the wrapper made (never resizable):
  // their memory is looked up once, and a batch only asks whether that buffer was detached
  // (napi_get_typedarray_info per array per batch cost ~800 instructions).
  Napi::Reference<Napi::TypedArray> events_;
  // Auto-read: per entry (offset, length) in `.reads`, whose last slot is the slab cursor. The
  // slab belongs to JS; the wrapper writes only past the cursor, so views JS handed out stay put.
  Napi::Reference<Napi::TypedArray> reads_;
  Napi::Reference<Napi::ArrayBuffer> batch_buffer_;
  int32_t* events_data_ = nullptr;
  int32_t* reads_data_ = nullptr;
  // The slab's memory as setReadSlab found it; the reference to its ArrayBuffer keeps it alive
  // and is checked once per batch (SlabLive).
  Napi::Reference<Napi::ArrayBuffer> slab_buffer_;
  uint8_t* slab_data_ = nullptr;
  size_t slab_size_ = 0;
  size_t slab_used_ = 0;
  size_t min_read_ = 0;
  size_t max_read_ = 0;
  std::vector<uint8_t> auto_read_;  // by fd
  Napi::FunctionReference callback_;
  napi_async_context async_context_ = nullptr;

  uv_loop_t* loop_ = nullptr;
  uv_poll_t* poll_handle_ = nullptr;    // epoll / kqueue
  uv_async_t* async_handle_ = nullptr;  // poll / select

  // Shared with the helper thread; guarded by mu_.
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread helper_;
  bool helper_running_ = false;
  bool quit_ = false;
  bool armed_ = false;     // the thread may look for readiness (the last batch has been run)
  bool active_ = false;    // started
  bool blocking_ = false;  // the thread is inside poll()/select()
  bool wake_pending_ = false;
  // A removal happened since the thread took its snapshot: poll()/select() may still hold
  // that fd's file open (see ForgetFd).
  bool removed_since_snapshot_ = false;
  uint64_t snapshot_gen_ = 0;          // counts snapshots, so ForgetFd can wait for a fresh one
  std::condition_variable snapshot_cv_;
  int wake_read_ = -1;
  int wake_write_ = -1;
  WaitSnapshot snapshot_;  // the helper thread's private copy
};

}  // namespace evloop
