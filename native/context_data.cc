// V8's continuation-preserved embedder data: one value per context that V8 itself carries
// through promise continuations. Every promise reaction (an `await`, a then()) records the value
// current when it is registered and V8 puts it back while the reaction runs (and clears it
// after), so code that set it before calling an async function finds it again after every
// `await` there, and in everything that function awaits. It is what Node 22+ builds
// AsyncContextFrame on; evloop carries an async-function task's frame in it (lib/core/context.ts).
//
// Why not promise hooks: any V8 promise hook, even an empty one, makes every promise in the
// process slower (bench/await-designs.js), and a task's frame needs three of them. This costs a
// promise nothing: V8 copies one field per reaction whether or not anyone uses it.
//
// Why dlsym and not v8.h: the addon is built against Node-API alone so that one prebuilt binary
// loads in every Node version. The V8 C++ API is not ABI-stable across Node majors, so the two
// methods are looked up by their mangled names in the running node binary (which exports V8's
// symbols for addons): where they are absent, or on a V8 whose meaning differs (the JS side uses
// this only on V8 11, i.e. Node 20, and keeps the promise hooks elsewhere — Node 22+ owns the
// slot for its own AsyncLocalStorage), contextData() returns null and nothing here is called.
//
// The calls rely on two layouts every Node keeps: a napi_value is the address of a V8 handle
// slot, which is exactly what v8::Local<T> holds (Node's js_native_api_v8.h converts them with a
// memcpy), and a V8 member function taking or returning a Local is called like a free function
// whose first argument is the object and whose Local is passed and returned as one pointer
// (Local is a trivially copyable one-pointer class: the Itanium C++ ABI passes it in a register).
#include "addon.h"

#include <atomic>
#include <cstdint>

#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#endif

namespace evloop {

namespace {

struct HandleSlot {
  void* address;  // v8::Local<T>::val_
};

using IsolateGetCurrent = void* (*)();
using IsolateGetCurrentContext = HandleSlot (*)(void* isolate);
using ContextGetData = HandleSlot (*)(void* context);
using ContextSetData = void (*)(void* context, HandleSlot value);

// What a v8::FunctionCallback receives (v8::FunctionCallbackInfo<Value>, V8 11): the implicit
// arguments hold the isolate and the slot the return value is written to.
struct FunctionCallbackInfo {
  uintptr_t* implicit_args;
  uintptr_t* values;
  int length;
};
constexpr int kIsolateIndex = 1;
constexpr int kReturnValueDefaultValueIndex = 2;  // holds undefined
constexpr int kReturnValueIndex = 3;
using FunctionCallback = void (*)(const FunctionCallbackInfo& info);
// v8::Function::New(context, callback, data, length, ConstructorBehavior, SideEffectType), whose
// MaybeLocal<Function> is one pointer too.
using FunctionNew = HandleSlot (*)(HandleSlot context, FunctionCallback callback, HandleSlot data, int length, int behavior,
                                   int side_effect_type);

struct V8ContextData {
  IsolateGetCurrent isolate_get_current = nullptr;
  IsolateGetCurrentContext get_current_context = nullptr;
  ContextGetData get_data = nullptr;
  ContextSetData set_data = nullptr;
  FunctionNew function_new = nullptr;
};

template <typename Fn>
Fn Lookup(const char* mangled) {
#if defined(__unix__) || defined(__APPLE__)
  return reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, mangled));
#else
  return nullptr;
#endif
}

bool Resolve(V8ContextData* fns) {
#if (defined(__x86_64__) || defined(__aarch64__)) && (defined(__unix__) || defined(__APPLE__))
  fns->isolate_get_current = Lookup<IsolateGetCurrent>("_ZN2v87Isolate10GetCurrentEv");
  fns->get_current_context = Lookup<IsolateGetCurrentContext>("_ZN2v87Isolate17GetCurrentContextEv");
  fns->get_data = Lookup<ContextGetData>("_ZNK2v87Context36GetContinuationPreservedEmbedderDataEv");
  fns->set_data = Lookup<ContextSetData>("_ZN2v87Context36SetContinuationPreservedEmbedderDataENS_5LocalINS_5ValueEEE");
  // Optional: without it, `get` is a Node-API function like `set`.
  fns->function_new = Lookup<FunctionNew>(
      "_ZN2v88Function3NewENS_5LocalINS_7ContextEEEPFvRKNS_20FunctionCallbackInfoINS_5ValueEEEENS1_IS5_EEiNS_19ConstructorBehaviorENS_"
      "14SideEffectTypeE");
  return fns->isolate_get_current != nullptr && fns->get_current_context != nullptr && fns->get_data != nullptr &&
         fns->set_data != nullptr;
#else
  (void)fns;
  return false;
#endif
}

// Resolved once per process: they are the running node binary's, the same for every
// environment (worker thread) that loads the addon. A static the callbacks read directly, not
// the function's data: napi_get_cb_info is a third of what reading the frame costs otherwise,
// and `get` runs at every await of a pending future in a task.
const V8ContextData* Resolved() {
  static const V8ContextData fns = [] {
    V8ContextData f;
    if (!Resolve(&f)) f = V8ContextData{};
    return f;
  }();
  return fns.get_data != nullptr ? &fns : nullptr;
}

// Called from JS only (a V8 function callback): a HandleScope is open and the isolate is entered.
void* CurrentContext(const V8ContextData* fns) {
  return fns->get_current_context(fns->isolate_get_current()).address;
}

napi_value GetData(napi_env /*env*/, napi_callback_info /*info*/) {
  const V8ContextData* fns = Resolved();
  return static_cast<napi_value>(fns->get_data(CurrentContext(fns)).address);
}

// `get` and `set` as plain V8 functions: `get` runs at every `await` of a pending future in an
// async-function task, `set` at every task's first step, and a Node-API function costs its
// wrapper on top of V8's own call (callgrind: ~70 of the ~180 instructions of a read, with
// napi's callback wrapper and the isolate lookup). Called by V8 with a HandleScope open, in the
// function's context; they cannot fail or throw.
std::atomic<const V8ContextData*> fast_fns{nullptr};

void GetDataFast(const FunctionCallbackInfo& info) {
  const V8ContextData* fns = fast_fns.load(std::memory_order_relaxed);
  void* isolate = reinterpret_cast<void*>(info.implicit_args[kIsolateIndex]);
  HandleSlot value = fns->get_data(fns->get_current_context(isolate).address);
  info.implicit_args[kReturnValueIndex] = *static_cast<uintptr_t*>(value.address);
}

void SetDataFast(const FunctionCallbackInfo& info) {
  const V8ContextData* fns = fast_fns.load(std::memory_order_relaxed);
  void* isolate = reinterpret_cast<void*>(info.implicit_args[kIsolateIndex]);
  // The first argument's slot (values points at it), or one holding undefined when there is none.
  HandleSlot value{info.length >= 1 ? static_cast<void*>(info.values) : static_cast<void*>(&info.implicit_args[kReturnValueDefaultValueIndex])};
  fns->set_data(fns->get_current_context(isolate).address, value);
}

napi_value NewFastFunction(const V8ContextData* fns, FunctionCallback callback, int side_effect_type) {
  if (fns->function_new == nullptr) return nullptr;
  fast_fns.store(fns, std::memory_order_relaxed);
  constexpr int kThrowOnConstruct = 0;  // ConstructorBehavior::kThrow
  HandleSlot fn = fns->function_new(HandleSlot{CurrentContext(fns)}, callback, HandleSlot{nullptr}, 0, kThrowOnConstruct,
                                    side_effect_type);
  return static_cast<napi_value>(fn.address);
}
constexpr int kHasSideEffect = 0;    // SideEffectType::kHasSideEffect
constexpr int kHasNoSideEffect = 1;  // SideEffectType::kHasNoSideEffect

napi_value SetData(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value value = nullptr;
  if (napi_get_cb_info(env, info, &argc, &value, nullptr, nullptr) != napi_ok) return nullptr;
  const V8ContextData* fns = Resolved();
  if (argc < 1 || value == nullptr) napi_get_undefined(env, &value);
  fns->set_data(CurrentContext(fns), HandleSlot{static_cast<void*>(value)});
  return nullptr;
}

}  // namespace

Napi::Value EvloopAddon::ContextData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (Resolved() == nullptr) return env.Null();
  napi_value get = NewFastFunction(Resolved(), GetDataFast, kHasNoSideEffect);
  napi_value set = NewFastFunction(Resolved(), SetDataFast, kHasSideEffect);
  if (get == nullptr) {
    NAPI_THROW_IF_FAILED(env, napi_create_function(env, "get", NAPI_AUTO_LENGTH, GetData, nullptr, &get), Napi::Value());
  }
  if (set == nullptr) {
    NAPI_THROW_IF_FAILED(env, napi_create_function(env, "set", NAPI_AUTO_LENGTH, SetData, nullptr, &set), Napi::Value());
  }
  Napi::Object pair = Napi::Object::New(env);
  pair.Set("get", get);
  pair.Set("set", set);
  return pair;
}

}  // namespace evloop
