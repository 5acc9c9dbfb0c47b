// Module init, per-instance state and the teardown that lets a worker die without leaking.
#include "addon.h"

#include <unistd.h>

#include <algorithm>

#include "errors.h"

namespace evloop {

EvloopAddon::EvloopAddon(Napi::Env env, Napi::Object exports) : env_(env) {
  Napi::Function poller = PollerWrap::Define(env);
  poller_constructor = Napi::Persistent(poller);

  Napi::Array backends = Napi::Array::New(env);
  uint32_t i = 0;
  for (const char* name : kBackends) backends.Set(i++, Napi::String::New(env, name));

  Napi::Object constants = Napi::Object::New(env);
  constants.Set("READ", Napi::Number::New(env, kRead));
  constants.Set("WRITE", Napi::Number::New(env, kWrite));
  constants.Set("ERROR", Napi::Number::New(env, kError));
  constants.Set("HUP", Napi::Number::New(env, kHup));
  constants.Set("AUTO_READ", Napi::Number::New(env, kAutoRead));
  constants.Set("READ_NOT_DONE", Napi::Number::New(env, kReadNotDone));
  constants.Set("READ_WOULD_BLOCK", Napi::Number::New(env, kReadWouldBlock));

  DefineAddon(exports, {
      InstanceValue("Poller", poller, napi_enumerable),
      InstanceValue("backends", backends, napi_enumerable),
      InstanceValue("constants", constants, napi_enumerable),
      InstanceMethod<&EvloopAddon::Socket>("socket", napi_enumerable),
      InstanceMethod<&EvloopAddon::SocketPair>("socketpair", napi_enumerable),
      InstanceMethod<&EvloopAddon::Bind>("bind", napi_enumerable),
      InstanceMethod<&EvloopAddon::BindUnix>("bindUnix", napi_enumerable),
      InstanceMethod<&EvloopAddon::Listen>("listen", napi_enumerable),
      InstanceMethod<&EvloopAddon::Accept>("accept", napi_enumerable),
      InstanceMethod<&EvloopAddon::Connect>("connect", napi_enumerable),
      InstanceMethod<&EvloopAddon::ConnectUnix>("connectUnix", napi_enumerable),
      InstanceMethod<&EvloopAddon::FinishConnect>("finishConnect", napi_enumerable),
      InstanceMethod<&EvloopAddon::Recv>("recv", napi_enumerable),
      InstanceMethod<&EvloopAddon::Send>("send", napi_enumerable),
      InstanceMethod<&EvloopAddon::Writev>("writev", napi_enumerable),
      InstanceMethod<&EvloopAddon::SendBatch>("sendBatch", napi_enumerable),
      InstanceMethod<&EvloopAddon::SendTo>("sendto", napi_enumerable),
      InstanceMethod<&EvloopAddon::RecvFrom>("recvfrom", napi_enumerable),
      InstanceMethod<&EvloopAddon::Shutdown>("shutdown", napi_enumerable),
      InstanceMethod<&EvloopAddon::Close>("close", napi_enumerable),
      InstanceMethod<&EvloopAddon::SetSockOpt>("setsockopt", napi_enumerable),
      InstanceMethod<&EvloopAddon::GetSockOpt>("getsockopt", napi_enumerable),
      InstanceMethod<&EvloopAddon::GetSockName>("getsockname", napi_enumerable),
      InstanceMethod<&EvloopAddon::GetPeerName>("getpeername", napi_enumerable),
      InstanceMethod<&EvloopAddon::ErrName>("errname", napi_enumerable),
      InstanceMethod<&EvloopAddon::ErrnoErrorValue>("errnoError", napi_enumerable),
      InstanceMethod<&EvloopAddon::Pipe>("pipe", napi_enumerable),
      InstanceMethod<&EvloopAddon::OwnPipe>("ownPipe", napi_enumerable),
      InstanceMethod<&EvloopAddon::Read>("read", napi_enumerable),
      InstanceMethod<&EvloopAddon::Write>("write", napi_enumerable),
      InstanceMethod<&EvloopAddon::Spawn>("spawn", napi_enumerable),
      InstanceMethod<&EvloopAddon::WaitChild>("waitChild", napi_enumerable),
      InstanceMethod<&EvloopAddon::KillChild>("killChild", napi_enumerable),
      InstanceMethod<&EvloopAddon::ReleaseChild>("releaseChild", napi_enumerable),
      InstanceMethod<&EvloopAddon::ContextData>("contextData", napi_enumerable),
  });

  // Runs before the environment's own napi teardown (hooks run last-in first-out), while the
  // libuv loop is still there to finish the uv_close()s we start.
  hook_installed_ = napi_add_env_cleanup_hook(env, CleanupHook, this) == napi_ok;
}

EvloopAddon::~EvloopAddon() {
  if (hook_installed_) {
    napi_remove_env_cleanup_hook(env_, CleanupHook, this);
    hook_installed_ = false;
  }
  Teardown();
}

void EvloopAddon::CleanupHook(void* arg) {
  auto* self = static_cast<EvloopAddon*>(arg);
  self->hook_installed_ = false;
  self->Teardown();
}

void EvloopAddon::Teardown() {
  if (torn_down_) return;
  torn_down_ = true;
  // Shutdown() unregisters the poller from pollers_; work on a copy.
  std::vector<PollerWrap*> pollers;
  pollers.swap(pollers_);
  for (PollerWrap* poller : pollers) {
    poller->DetachAddon();
    poller->Shutdown();
  }
  for (size_t fd = 0; fd < owned_.size(); ++fd) {
    if (owned_[fd] != kNotOwned) {
      owned_[fd] = kNotOwned;
      close(static_cast<int>(fd));
    }
  }
  // Running children are left running (nothing is killed behind the user's back); those that
  // have already exited are reaped so they do not linger as zombies.
  for (const auto& child : children_) orphans_.push_back(child.first);
  children_.clear();
  SweepOrphans();
}

void EvloopAddon::Own(int fd, uint8_t kind) {
  if (static_cast<size_t>(fd) >= owned_.size()) {
    owned_.resize(std::max(static_cast<size_t>(fd) + 1, owned_.size() * 2), kNotOwned);
  }
  owned_[fd] = kind;
}

uint8_t EvloopAddon::RequireOwned(napi_env env, int fd, const char* syscall) const {
  uint8_t kind = Kind(fd);
  if (kind == kNotOwned) ThrowErrno(Napi::Env(env), EBADF, syscall);
  return kind;
}

void EvloopAddon::RemovePoller(PollerWrap* poller) {
  auto it = std::find(pollers_.begin(), pollers_.end(), poller);
  if (it != pollers_.end()) pollers_.erase(it);
}

void EvloopAddon::ForgetFd(int fd) {
  for (PollerWrap* poller : pollers_) poller->ForgetFd(fd);
}

}  // namespace evloop

using evloop::EvloopAddon;
NODE_API_NAMED_ADDON(evloop_addon, EvloopAddon)
