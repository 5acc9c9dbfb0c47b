#include "errors.h"

#include <uv.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

namespace evloop {

const char* ErrName(int err, char* buf, size_t size) {
  // libuv's codes are the negated errno on every Unix.
  uv_err_name_r(-err, buf, size);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  // libuv names only the errnos it uses itself (not ECHILD, for one); glibc knows them all.
  if (std::strncmp(buf, "Unknown", 7) == 0) {
    const char* name = strerrorname_np(err);
    if (name != nullptr) std::snprintf(buf, size, "%s", name);
  }
#endif
  return buf;
}

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall) {
  char name[64];
  ErrName(err, name, sizeof(name));
  std::string message = std::string(syscall) + " " + name;
  Napi::Error error = Napi::Error::New(env, message);
  Napi::Object obj = error.Value();
  obj.Set("errno", Napi::Number::New(env, -err));
  obj.Set("code", Napi::String::New(env, name));
  obj.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall) {
  throw ErrnoError(env, err, syscall);
}

void ThrowCodeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Value().Set("code", Napi::String::New(env, code));
  throw error;
}

void ThrowTypeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::TypeError error = Napi::TypeError::New(env, message);
  error.Value().Set("code", Napi::String::New(env, code));
  throw error;
}

void ThrowRangeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::RangeError error = Napi::RangeError::New(env, message);
  error.Value().Set("code", Napi::String::New(env, code));
  throw error;
}

static const char* TypeName(napi_env env, napi_value value) {
  napi_valuetype type = napi_undefined;
  if (napi_typeof(env, value, &type) != napi_ok) return "unknown";
  switch (type) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_object: return "object";
    case napi_function: return "function";
    case napi_external: return "external";
    case napi_bigint: return "bigint";
  }
  return "unknown";
}

static std::string FormatNumber(double d) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", d);
  return buf;
}

[[noreturn]] static void ThrowWrongType(napi_env env, napi_value value, const char* name,
                                        const char* expected) {
  ThrowTypeError(Napi::Env(env), "ERR_INVALID_ARG_TYPE",
                 std::string("The \"") + name + "\" argument must be " + expected +
                     ". Received type " + TypeName(env, value));
}

int32_t ArgFd(napi_env env, napi_value value, const char* name) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok) {
    ThrowWrongType(env, value, name, "a non-negative integer");
  }
  if (!(d >= 0 && d <= 2147483647.0 && d == std::floor(d))) {
    ThrowTypeError(Napi::Env(env), "ERR_INVALID_ARG_TYPE",
                   std::string("The \"") + name + "\" argument must be a non-negative integer. " +
                       "Received " + FormatNumber(d));
  }
  return static_cast<int32_t>(d);
}

int64_t ArgInt(napi_env env, napi_value value, const char* name, int64_t min, int64_t max) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok) {
    ThrowWrongType(env, value, name, "of type number");
  }
  if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max) && d == std::floor(d))) {
    ThrowRangeError(Napi::Env(env), "ERR_OUT_OF_RANGE",
                    std::string("The value of \"") + name + "\" is out of range. It must be an " +
                        "integer >= " + std::to_string(min) + " and <= " + std::to_string(max) +
                        ". Received " + FormatNumber(d));
  }
  return static_cast<int64_t>(d);
}

bool IsUndefinedOrNull(napi_env env, napi_value value) {
  if (value == nullptr) return true;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return false;
  return type == napi_undefined || type == napi_null;
}

int64_t ArgIntOr(napi_env env, napi_value value, const char* name, int64_t min, int64_t max,
                 int64_t fallback) {
  double d;
  // The common case (a number) costs one call; only a non-number pays for typeof.
  if (napi_get_value_double(env, value, &d) != napi_ok) {
    if (IsUndefinedOrNull(env, value)) return fallback;
  }
  return ArgInt(env, value, name, min, max);
}

void ArgBytes(napi_env env, napi_value value, const char* name, uint8_t** data, size_t* length) {
  napi_typedarray_type type;
  size_t count = 0;
  void* ptr = nullptr;
  if (napi_get_typedarray_info(env, value, &type, &count, &ptr, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array) {
    ThrowWrongType(env, value, name, "an instance of Buffer or Uint8Array");
  }
  *data = static_cast<uint8_t*>(ptr);
  *length = count;
}

void ArgWindow(napi_env env, napi_value offset_value, napi_value length_value, size_t size,
               size_t* offset, size_t* length) {
  int64_t off = ArgIntOr(env, offset_value, "offset", 0, static_cast<int64_t>(size), 0);
  int64_t rest = static_cast<int64_t>(size) - off;
  int64_t len = ArgIntOr(env, length_value, "length", 0, rest, rest);
  *offset = static_cast<size_t>(off);
  *length = static_cast<size_t>(len);
}

size_t ArgString(napi_env env, napi_value value, const char* name, char* buf, size_t size) {
  size_t needed = 0;
  if (napi_get_value_string_utf8(env, value, nullptr, 0, &needed) != napi_ok) {
    ThrowWrongType(env, value, name, "of type string");
  }
  if (needed + 1 > size) {
    ThrowRangeError(Napi::Env(env), "ERR_OUT_OF_RANGE",
                    std::string("The \"") + name + "\" argument is too long (" +
                        std::to_string(needed) + " bytes, at most " + std::to_string(size - 1) +
                        ")");
  }
  size_t copied = 0;
  napi_get_value_string_utf8(env, value, buf, size, &copied);
  return copied;
}

}  // namespace evloop
