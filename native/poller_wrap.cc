// The JS class Poller: argument checks, the shared `.events` array, and delivery of readiness
// through Node's own loop.
//
// epoll / kqueue: the poller's fd is itself pollable, so a uv_poll_t watches it and each time it
// turns readable we run one non-blocking Wait and hand the batch to JS.
// poll / select: there is no such fd, so a helper thread blocks in poll()/select() on a snapshot
// of the interest set plus a wake pipe. When something is ready it disarms itself and
// uv_async_send()s; the JS thread runs a non-blocking Wait, calls JS, then re-arms it. The thread
// never reports the same level-triggered readiness twice before JS has had a chance to act on it
// (no spinning), and never touches JS or the shared array itself.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>

#include "addon.h"
#include "errors.h"
#include "nocancel.h"

namespace evloop {
namespace {

const char* CtlSyscall(const char* backend) {
  if (std::strcmp(backend, "epoll") == 0) return "epoll_ctl";
  if (std::strcmp(backend, "kqueue") == 0) return "kevent";
  return backend;  // poll / select: registration is bookkeeping plus an fcntl probe
}

const char* WaitSyscall(const char* backend) {
  if (std::strcmp(backend, "epoll") == 0) return "epoll_wait";
  if (std::strcmp(backend, "kqueue") == 0) return "kevent";
  return backend;
}

bool IsKnownBackend(const std::string& name) {
  return name == "epoll" || name == "kqueue" || name == "poll" || name == "select";
}

bool IsAvailableBackend(const std::string& name) {
  for (const char* b : kBackends) {
    if (name == b) return true;
  }
  return false;
}

std::unique_ptr<Poller> CreateBackend(const std::string& name, int* err) {
#if defined(EVLOOP_HAVE_EPOLL)
  if (name == "epoll") return CreateEpollPoller(err);
#endif
#if defined(EVLOOP_HAVE_KQUEUE)
  if (name == "kqueue") return CreateKqueuePoller(err);
#endif
  if (name == "poll") return CreatePollPoller(err);
  if (name == "select") return CreateSelectPoller(err);
  *err = ENOSYS;
  return nullptr;
}

// JS timeouts are fractional milliseconds; the kernels take whole ones (epoll_wait, poll, kevent
// via our conversion) and return once that many have passed. Rounding down would let a wait for
// 0.5 ms return at once, before its deadline, and a loop re-waiting for the remainder would spin;
// so round up: a wait never returns early.
int TimeoutArg(napi_env env, napi_value value) {
  if (IsUndefinedOrNull(env, value)) return -1;
  double ms;
  if (napi_get_value_double(env, value, &ms) != napi_ok) {
    ThrowTypeError(Napi::Env(env), "ERR_INVALID_ARG_TYPE",
                   "The \"timeoutMs\" argument must be of type number");
  }
  if (std::isnan(ms)) {
    ThrowTypeError(Napi::Env(env), "ERR_INVALID_ARG_VALUE",
                   "The \"timeoutMs\" argument must not be NaN");
  }
  if (ms < 0 || ms >= 2147483647.0) return -1;  // negative or beyond int: wait forever
  return static_cast<int>(std::ceil(ms));
}

void CloseHandleAndFree(uv_handle_t* handle) {
  uv_close(handle, [](uv_handle_t* h) {
    if (h->type == UV_POLL) {
      delete reinterpret_cast<uv_poll_t*>(h);
    } else {
      delete reinterpret_cast<uv_async_t*>(h);
    }
  });
}

}  // namespace

Napi::Function PollerWrap::Define(Napi::Env env) {
  return DefineClass(
      env, "Poller",
      {
          InstanceAccessor<&PollerWrap::GetBackend>("backend"),
          InstanceAccessor<&PollerWrap::GetEvents>("events"),
          InstanceAccessor<&PollerWrap::GetCapacity>("capacity"),
          InstanceAccessor<&PollerWrap::GetSize>("size"),
          InstanceAccessor<&PollerWrap::GetReads>("reads"),
          InstanceMethod<&PollerWrap::SetReadSlab>("setReadSlab"),
          InstanceMethod<&PollerWrap::Add>("add"),
          InstanceMethod<&PollerWrap::Modify>("modify"),
          InstanceMethod<&PollerWrap::Remove>("remove"),
          InstanceMethod<&PollerWrap::Wait>("wait"),
          InstanceMethod<&PollerWrap::Start>("start"),
          InstanceMethod<&PollerWrap::Stop>("stop"),
          InstanceMethod<&PollerWrap::CloseMethod>("close"),
      });
}

PollerWrap::PollerWrap(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<PollerWrap>(info), addon_(nullptr), env_(info.Env()) {
  Napi::Env env = info.Env();
  std::string name;
  if (info.Length() > 0 && info[0].IsString()) name = info[0].As<Napi::String>().Utf8Value();
  if (!IsKnownBackend(name)) {
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE",
                   "The \"backend\" argument must be one of 'epoll', 'kqueue', 'poll', "
                   "'select'. Received " +
                       (info.Length() > 0 && info[0].IsString() ? "'" + name + "'"
                                                                : std::string("a non-string")));
  }
  if (!IsAvailableBackend(name)) {
    ThrowCodeError(env, "ERR_BACKEND_UNAVAILABLE",
                   "The '" + name + "' backend is not available on this platform");
  }
  int err = 0;
  backend_ = CreateBackend(name, &err);
  if (!backend_) ThrowErrno(env, err, name == "epoll" ? "epoll_create1" : name.c_str());

  const size_t events_length = 2 * static_cast<size_t>(kCapacity);
  const size_t reads_length = 2 * static_cast<size_t>(kCapacity) + 1;
  Napi::ArrayBuffer buffer =
      Napi::ArrayBuffer::New(env, sizeof(int32_t) * (events_length + reads_length));
  Napi::Int32Array events = Napi::Int32Array::New(env, events_length, buffer, 0);
  events_ = Napi::Persistent(static_cast<Napi::TypedArray>(events));
  Napi::Int32Array reads =
      Napi::Int32Array::New(env, reads_length, buffer, sizeof(int32_t) * events_length);
  reads_ = Napi::Persistent(static_cast<Napi::TypedArray>(reads));
  batch_buffer_ = Napi::Persistent(buffer);
  events_data_ = static_cast<int32_t*>(buffer.Data());
  reads_data_ = events_data_ + events_length;

  if (napi_get_uv_event_loop(env, &loop_) != napi_ok) {
    backend_->Close();
    ThrowCodeError(env, "ERR_INTERNAL", "no libuv loop for this environment");
  }
  addon_ = env.GetInstanceData<EvloopAddon>();
  if (addon_) addon_->AddPoller(this);
}

PollerWrap::~PollerWrap() {
  Shutdown();
  if (async_context_ != nullptr && !env_torn_down_) napi_async_destroy(env_, async_context_);
}

void PollerWrap::RequireOpen(napi_env env) const {
  if (closed_) ThrowCodeError(Napi::Env(env), "ERR_SELECTOR_CLOSED", "The poller is closed");
}

Napi::Value PollerWrap::GetBackend(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), backend_ ? backend_->Name() : "");
}

Napi::Value PollerWrap::GetEvents(const Napi::CallbackInfo& info) {
  (void)info;
  return events_.Value();
}

Napi::Value PollerWrap::GetReads(const Napi::CallbackInfo& info) {
  (void)info;
  return reads_.Value();
}

// setReadSlab(slab, minRead, maxRead) / setReadSlab(null): where auto-reads go from now on, from
// offset 0. A read takes up to maxRead bytes, and none is tried with less than minRead left (the
// entry says kReadNotDone and JS reads that fd itself): bulk reads stay big.
Napi::Value PollerWrap::SetReadSlab(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  RequireOpen(env);
  if (IsUndefinedOrNull(env, info[0])) {
    slab_buffer_.Reset();
    slab_data_ = nullptr;
    slab_size_ = 0;
    slab_used_ = 0;
    return info.Env().Undefined();
  }
  uint8_t* data;
  size_t length;
  ArgBytes(env, info[0], "slab", &data, &length);
  // The memory is kept from here on and checked once per batch against its ArrayBuffer (see
  // SlabLive): that takes a plain ArrayBuffer, not a SharedArrayBuffer.
  napi_value array_buffer = nullptr;
  bool is_array_buffer = false;
  if (napi_get_typedarray_info(env, info[0], nullptr, nullptr, nullptr, &array_buffer, nullptr) !=
          napi_ok ||
      napi_is_arraybuffer(env, array_buffer, &is_array_buffer) != napi_ok || !is_array_buffer) {
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                   "The \"slab\" argument must be a Buffer or Uint8Array over an ArrayBuffer");
  }
  size_t min_read = static_cast<size_t>(ArgInt(env, info[1], "minRead", 1, INT32_MAX));
  size_t max_read = static_cast<size_t>(
      ArgInt(env, info[2], "maxRead", static_cast<int64_t>(min_read), INT32_MAX));
  if (length > static_cast<size_t>(INT32_MAX)) {
    ThrowRangeError(info.Env(), "ERR_OUT_OF_RANGE",
                    "The value of \"slab.length\" is out of range. It must be < 2 ** 31");
  }
  slab_buffer_ = Napi::Persistent(Napi::ArrayBuffer(env, array_buffer));
  slab_data_ = data;
  slab_size_ = length;
  slab_used_ = 0;
  min_read_ = min_read;
  max_read_ = max_read;
  int32_t* reads = ReadsBuffer(env);
  if (reads != nullptr) reads[2 * kCapacity] = 0;
  return info.Env().Undefined();
}

Napi::Value PollerWrap::GetCapacity(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), kCapacity);
}

Napi::Value PollerWrap::GetSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), closed_ ? 0 : backend_->Size());
}

int PollerWrap::RegisterArgs(const Napi::CallbackInfo& info, bool with_events, int* events) {
  napi_env env = info.Env();
  RequireOpen(env);
  int fd = ArgFd(env, info[0]);
  if (with_events) {
    *events = static_cast<int>(ArgInt(env, info[1], "events", kRead, kRead | kWrite | kAutoRead));
    if ((*events & (kError | kHup)) != 0 || (*events & (kRead | kWrite)) == 0 ||
        ((*events & kAutoRead) != 0 && (*events & kRead) == 0)) {
      ThrowRangeError(Napi::Env(env), "ERR_OUT_OF_RANGE",
                      "The value of \"events\" is out of range. It must be a non-zero READ|WRITE "
                      "mask, with AUTO_READ only next to READ. Received " +
                          std::to_string(*events));
    }
    // The wrapper reads auto-read fds itself: only fds this addon created and still owns.
    if ((*events & kAutoRead) != 0 && (addon_ == nullptr || addon_->Kind(fd) == kNotOwned)) {
      ThrowErrno(Napi::Env(env), EBADF, CtlSyscall(backend_->Name()));
    }
  }
  if (fd >= backend_->FdLimit()) {
    ThrowRangeError(Napi::Env(env), "ERR_OUT_OF_RANGE",
                    "The value of \"fd\" is out of range. The " + std::string(backend_->Name()) +
                        " backend takes fds < " + std::to_string(backend_->FdLimit()) +
                        ". Received " + std::to_string(fd));
  }
  return fd;
}

// The interest set is shared with the helper thread: change it under the lock, and on success
// wake the thread so it re-snapshots (and, when it was idle for want of fds, starts looking).
// The libuv handle's ref follows the new size. A failure is the registration syscall's errno.
template <typename Change>
Napi::Value PollerWrap::ChangeInterest(napi_env env, Change change) {
  int err;
  {
    std::lock_guard<std::mutex> lock(mu_);
    err = change();
    if (err == 0) {
      WakeHelper();
      cv_.notify_one();
    }
  }
  if (err != 0) ThrowErrno(Napi::Env(env), err, CtlSyscall(backend_->Name()));
  UpdateRef();
  return Napi::Env(env).Undefined();
}

void PollerWrap::SetAutoRead(int fd, bool on) {
  if (static_cast<size_t>(fd) >= auto_read_.size()) {
    if (!on) return;
    auto_read_.resize(static_cast<size_t>(fd) + 64, 0);
  }
  auto_read_[fd] = on ? 1 : 0;
}

int PollerWrap::ApplyInterest(int fd, int events, bool add) {
  int kernel = events & (kRead | kWrite);
  int err = add ? backend_->Add(fd, kernel) : backend_->Modify(fd, kernel);
  if (err == 0) SetAutoRead(fd, (events & kAutoRead) != 0);
  return err;
}

Napi::Value PollerWrap::Add(const Napi::CallbackInfo& info) {
  int events = 0;
  int fd = RegisterArgs(info, true, &events);
  return ChangeInterest(info.Env(), [&] { return ApplyInterest(fd, events, true); });
}

Napi::Value PollerWrap::Modify(const Napi::CallbackInfo& info) {
  int events = 0;
  int fd = RegisterArgs(info, true, &events);
  return ChangeInterest(info.Env(), [&] { return ApplyInterest(fd, events, false); });
}

Napi::Value PollerWrap::Remove(const Napi::CallbackInfo& info) {
  int fd = RegisterArgs(info, false, nullptr);
  return ChangeInterest(info.Env(), [&] {
    int err = backend_->Remove(fd);
    if (err == 0) {
      removed_since_snapshot_ = true;
      SetAutoRead(fd, false);
    }
    return err;
  });
}

// Called just before `fd` is closed. The helper thread's poll()/select() holds a reference to
// every file in its snapshot until it returns, so closing the number alone would leave, e.g., a
// listening socket accepting connections (which then get reset instead of refused). When the
// thread may be blocked on a snapshot that has `fd`, wake it and wait for a snapshot without it.
void PollerWrap::ForgetFd(int fd) {
  if (closed_) return;
  SetAutoRead(fd, false);  // the number may come back as another file
  bool registered;
  {
    std::unique_lock<std::mutex> lock(mu_);
    registered = backend_->registry().Has(fd);
    if (registered) {
      backend_->Remove(fd);
      removed_since_snapshot_ = true;
    }
    if (helper_running_ && blocking_ && removed_since_snapshot_) {
      uint64_t gen = snapshot_gen_;
      WakeHelper();
      snapshot_cv_.wait(lock, [&] { return !blocking_ || snapshot_gen_ != gen || quit_; });
    }
  }
  if (registered) UpdateRef();
}

// The slab's memory as cached is still all there: not detached (transferred away) and, for a
// resizable buffer, not shrunk. One reference lookup and one cheap info call per batch.
bool PollerWrap::SlabLive(napi_env env) const {
  if (slab_data_ == nullptr || slab_buffer_.IsEmpty()) return false;
  napi_value value = nullptr;
  void* base = nullptr;
  size_t length = 0;
  if (napi_get_reference_value(env, slab_buffer_, &value) != napi_ok || value == nullptr ||
      napi_get_arraybuffer_info(env, value, &base, &length) != napi_ok || base == nullptr) {
    return false;
  }
  const uint8_t* start = static_cast<const uint8_t*>(base);
  return slab_data_ >= start && slab_data_ + slab_size_ <= start + length;
}

bool PollerWrap::Detached(napi_env env, const Napi::Reference<Napi::ArrayBuffer>& ref) const {
  if (ref.IsEmpty()) return true;
  napi_value value = nullptr;
  bool detached = true;
  if (napi_get_reference_value(env, ref, &value) != napi_ok || value == nullptr ||
      napi_is_detached_arraybuffer(env, value, &detached) != napi_ok) {
    return true;
  }
  return detached;
}

int32_t* PollerWrap::EventsBuffer(napi_env env) {
  return Detached(env, batch_buffer_) ? nullptr : events_data_;
}

int32_t* PollerWrap::ReadsBuffer(napi_env env) {
  return Detached(env, batch_buffer_) ? nullptr : reads_data_;
}

// `out` is events_data_, already checked this batch: `.reads` shares its buffer.
void PollerWrap::ReadBatch(int32_t* out, int n) {
  if (auto_read_.empty() || n <= 0) return;
  int32_t* reads = reads_data_;
  uint8_t* slab = nullptr;
  size_t slab_size = 0;
  bool slab_looked_up = false;
  for (int i = 0; i < n; ++i) {
    int fd = out[2 * i];
    int32_t length = kReadNotDone;
    if (AutoRead(fd) && (out[2 * i + 1] & (kRead | kError | kHup)) != 0) {
      if (!slab_looked_up) {
        slab_looked_up = true;
        if (SlabLive(env_)) {
          slab = slab_data_;
          slab_size = slab_size_;
        }
        if (slab_used_ > slab_size) slab_used_ = slab_size;  // detached or shrunk: nothing left
      }
      size_t room = slab_size - slab_used_;
      if (slab != nullptr && room >= min_read_ && room > 0) {
        size_t want = room < max_read_ ? room : max_read_;
        ssize_t got;
        do {
          got = ReadNoCancel(fd, slab + slab_used_, want);
        } while (got == -1 && errno == EINTR);
        reads[2 * i] = static_cast<int32_t>(slab_used_);
        if (got >= 0) {
          length = static_cast<int32_t>(got);
          slab_used_ += static_cast<size_t>(got);
        } else {
          length = (errno == EAGAIN || errno == EWOULDBLOCK) ? kReadWouldBlock : -errno;
        }
      }
    }
    reads[2 * i + 1] = length;
  }
  reads[2 * kCapacity] = static_cast<int32_t>(slab_used_);
}

Napi::Value PollerWrap::Wait(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  RequireOpen(env);
  int timeout = TimeoutArg(env, info[0]);
  int32_t* out = EventsBuffer(env);
  if (out == nullptr) {
    ThrowCodeError(info.Env(), "ERR_INVALID_STATE", "The poller's events array was detached");
  }
  int n;
  {
    std::lock_guard<std::mutex> lock(mu_);
    n = backend_->Wait(out, kCapacity, timeout);
  }
  if (n < 0) ThrowErrno(info.Env(), -n, WaitSyscall(backend_->Name()));
  ReadBatch(out, n);
  return Napi::Number::New(info.Env(), n);
}

Napi::Value PollerWrap::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  if (!info[0].IsFunction()) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE",
                   "The \"onReady\" argument must be of type function");
  }
  if (async_context_ == nullptr) {
    napi_value resource_name;
    napi_create_string_utf8(env, "evloop.Poller", NAPI_AUTO_LENGTH, &resource_name);
    if (napi_async_init(env, Value(), resource_name, &async_context_) != napi_ok) {
      async_context_ = nullptr;
      ThrowCodeError(env, "ERR_INTERNAL", "napi_async_init failed");
    }
  }
  if (backend_->Fd() >= 0) {
    if (poll_handle_ == nullptr) {
      auto* handle = new uv_poll_t;
      int r = uv_poll_init(loop_, handle, backend_->Fd());
      if (r != 0) {
        delete handle;
        ThrowErrno(env, -r, "uv_poll_init");
      }
      handle->data = this;
      uv_unref(reinterpret_cast<uv_handle_t*>(handle));
      poll_handle_ = handle;
    }
    if (!started_) {
      int r = uv_poll_start(poll_handle_, UV_READABLE, OnPollReady);
      if (r != 0) ThrowErrno(env, -r, "uv_poll_start");
    }
  } else {
    int err = EnsureHelper();
    if (err != 0) ThrowErrno(env, err, "pipe");
    std::lock_guard<std::mutex> lock(mu_);
    active_ = true;
    armed_ = true;
    cv_.notify_one();
  }
  callback_ = Napi::Persistent(info[0].As<Napi::Function>());
  started_ = true;
  // A started poller delivers to its callback even when JS dropped every reference to it.
  if (!self_ref_) {
    Ref();
    self_ref_ = true;
  }
  UpdateRef();
  return env.Undefined();
}

void PollerWrap::StopDelivery() {
  if (!started_) return;
  started_ = false;
  if (poll_handle_ != nullptr) uv_poll_stop(poll_handle_);
  if (helper_running_) {
    std::lock_guard<std::mutex> lock(mu_);
    active_ = false;
  }
  UpdateRef();
}

Napi::Value PollerWrap::Stop(const Napi::CallbackInfo& info) {
  RequireOpen(info.Env());
  StopDelivery();
  callback_.Reset();
  if (self_ref_) {
    self_ref_ = false;
    Unref();
  }
  return info.Env().Undefined();
}

Napi::Value PollerWrap::CloseMethod(const Napi::CallbackInfo& info) {
  Shutdown();
  callback_.Reset();
  if (async_context_ != nullptr) {
    napi_async_destroy(env_, async_context_);
    async_context_ = nullptr;
  }
  if (self_ref_) {
    self_ref_ = false;
    Unref();
  }
  return info.Env().Undefined();
}

void PollerWrap::Shutdown() {
  if (closed_) return;
  closed_ = true;
  started_ = false;
  StopHelper();
  if (poll_handle_ != nullptr) {
    uv_poll_stop(poll_handle_);
    CloseHandleAndFree(reinterpret_cast<uv_handle_t*>(poll_handle_));
    poll_handle_ = nullptr;
  }
  if (async_handle_ != nullptr) {
    CloseHandleAndFree(reinterpret_cast<uv_handle_t*>(async_handle_));
    async_handle_ = nullptr;
  }
  if (backend_) backend_->Close();
  auto_read_.clear();
  if (addon_ != nullptr) {
    addon_->RemovePoller(this);
    addon_ = nullptr;
  }
}

void PollerWrap::UpdateRef() {
  uv_handle_t* handle = poll_handle_ != nullptr
                            ? reinterpret_cast<uv_handle_t*>(poll_handle_)
                            : reinterpret_cast<uv_handle_t*>(async_handle_);
  if (handle == nullptr) return;
  if (started_ && !closed_ && backend_->Size() > 0) {
    uv_ref(handle);
  } else {
    uv_unref(handle);
  }
}

// ---- delivery ----

void PollerWrap::OnPollReady(uv_poll_t* handle, int status, int events) {
  (void)status;
  (void)events;
  static_cast<PollerWrap*>(handle->data)->Deliver();
}

// A batch of at least kRepeatAt events is followed by another look, up to kBatchesPerWake
// batches per wake-up: under load (many connections each answered in the batch) their next
// messages are back by the time JS has run, and finding them here spares the round through
// libuv that would otherwise deliver them — its own epoll_pwait on the poller's fd, and Node's
// per-iteration work (its check phase alone makes a callback scope and an object, ~1,350
// instructions). A small batch (light load: one ping-pong connection) is not looked after, so
// it costs no empty wait. The bound keeps libuv's other handles (Node's timers, sockets, fs)
// served at least every few batches.
constexpr int kRepeatAt = 8;
constexpr int kBatchesPerWake = 4;

void PollerWrap::Deliver() {
  for (int round = 0; round < kBatchesPerWake; ++round) {
    if (closed_ || !started_) return;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env_, &scope) != napi_ok) return;
    int32_t* out = EventsBuffer(env_);
    int n = out != nullptr ? backend_->Wait(out, kCapacity, 0) : 0;
    bool ok = true;
    if (n > 0) {
      ReadBatch(out, n);
      ok = CallJs(n);
    }
    napi_close_handle_scope(env_, scope);
    if (!ok || n < kRepeatAt) return;
  }
}

void PollerWrap::OnAsync(uv_async_t* handle) {
  auto* self = static_cast<PollerWrap*>(handle->data);
  if (self->closed_ || !self->started_) return;  // Start() re-arms the thread
  napi_handle_scope scope;
  if (napi_open_handle_scope(self->env_, &scope) != napi_ok) return;
  int32_t* out = self->EventsBuffer(self->env_);
  int n = 0;
  if (out != nullptr) {
    std::lock_guard<std::mutex> lock(self->mu_);
    n = self->backend_->Wait(out, kCapacity, 0);
  }
  if (n > 0) {
    self->ReadBatch(out, n);
    self->CallJs(n);
  }
  napi_close_handle_scope(self->env_, scope);
  // JS has seen this batch (and may have closed or stopped us meanwhile): look again.
  if (!self->closed_ && self->started_) {
    std::lock_guard<std::mutex> lock(self->mu_);
    self->armed_ = true;
    self->cv_.notify_one();
  }
}

// False when JS threw (the process is handling it as uncaught) or there was no one to call.
bool PollerWrap::CallJs(int n) {
  napi_value callback = callback_.Value();
  napi_value receiver = Value();
  if (callback == nullptr || receiver == nullptr) return false;
  napi_value argv[1];
  napi_create_int32(env_, n, &argv[0]);
  napi_value result;
  in_callback_ = true;
  napi_status status =
      napi_make_callback(env_, async_context_, receiver, callback, 1, argv, &result);
  in_callback_ = false;
  if (status == napi_pending_exception) {
    // Same fate as an exception thrown from a Node timer or socket callback: 'uncaughtException'.
    napi_value exception;
    if (napi_get_and_clear_last_exception(env_, &exception) == napi_ok) {
      napi_fatal_exception(env_, exception);
    }
    return false;
  }
  return status == napi_ok;
}

// ---- helper thread (poll / select) ----

int PollerWrap::EnsureHelper() {
  if (helper_running_) return 0;
  int fds[2];
#if defined(__linux__)
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1) return errno;
#else
  if (pipe(fds) == -1) return errno;
  if (SetNonBlockCloexec(fds[0]) != 0 || SetNonBlockCloexec(fds[1]) != 0) {
    int err = errno;
    close(fds[0]);
    close(fds[1]);
    return err;
  }
#endif
  if (fds[0] >= backend_->FdLimit()) {  // select could not watch its own wake pipe
    close(fds[0]);
    close(fds[1]);
    return EMFILE;
  }
  auto* handle = new uv_async_t;
  int r = uv_async_init(loop_, handle, OnAsync);
  if (r != 0) {
    delete handle;
    close(fds[0]);
    close(fds[1]);
    return -r;
  }
  handle->data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(handle));
  async_handle_ = handle;
  wake_read_ = fds[0];
  wake_write_ = fds[1];
  quit_ = false;
  armed_ = false;
  active_ = false;
  try {
    helper_ = std::thread(&PollerWrap::HelperMain, this);
  } catch (...) {
    CloseHandleAndFree(reinterpret_cast<uv_handle_t*>(async_handle_));
    async_handle_ = nullptr;
    close(wake_read_);
    close(wake_write_);
    wake_read_ = wake_write_ = -1;
    return EAGAIN;
  }
  helper_running_ = true;
  return 0;
}

void PollerWrap::WakeHelper() {
  if (!helper_running_ || !blocking_ || wake_pending_) return;
  wake_pending_ = true;
  char byte = 1;
  ssize_t ignored = write(wake_write_, &byte, 1);  // a full pipe is already a pending wake
  (void)ignored;
}

static void DrainPipe(int fd) {
  char buf[64];
  while (read(fd, buf, sizeof(buf)) > 0) {
  }
}

void PollerWrap::HelperMain() {
  // Signals belong to the JS thread (Node installs its handlers there); keep them away from
  // this one so they neither run here nor interrupt its poll().
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);

  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return quit_ || (armed_ && active_ && backend_->Size() > 0); });
    if (quit_) return;
    backend_->Snapshot(&snapshot_);
    snapshot_gen_++;
    removed_since_snapshot_ = false;
    blocking_ = true;
    lock.unlock();
    bool woken = false;
    int r = backend_->BlockOnSnapshot(&snapshot_, wake_read_, &woken);
    lock.lock();
    blocking_ = false;
    snapshot_cv_.notify_all();
    if (woken || wake_pending_) {
      // The interest set changed (or we are quitting): take a fresh snapshot. Level-triggered
      // readiness that was found meanwhile will be found again.
      DrainPipe(wake_read_);
      wake_pending_ = false;
      continue;
    }
    if (quit_) return;
    if (r == 0 || !active_) continue;
    // r > 0: something is ready. r < 0 (select's EBADF for an fd closed behind our back): the JS
    // thread's Wait turns it into ERROR events for the fds at fault.
    armed_ = false;
    uv_async_send(async_handle_);
  }
}

void PollerWrap::StopHelper() {
  if (!helper_running_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
    if (blocking_) {
      char byte = 1;
      ssize_t ignored = write(wake_write_, &byte, 1);
      (void)ignored;
    }
  }
  cv_.notify_all();
  helper_.join();
  helper_running_ = false;
  close(wake_read_);
  close(wake_write_);
  wake_read_ = wake_write_ = -1;
}

}  // namespace evloop
