// The one place where errno values and bad arguments become JS errors.
//
// Every failing syscall in the addon goes through ThrowErrno, so every error a caller sees has
// the same shape as Node's own: an Error with .code ('ECONNREFUSED'), .errno (negative, as
// Node's), .syscall and the message "<syscall> <CODE>". Argument checks throw TypeError /
// RangeError carrying Node's ERR_* codes, in better-sqlite3's style: check first, then act.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace evloop {

// Builds (does not throw) the errno error: `err` is the positive errno value.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall);

// Throws the errno error as a C++ exception; node-addon-api turns it into a JS throw.
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall);

// Error (plain, not errno) with a stable .code, e.g. ERR_SELECTOR_CLOSED.
[[noreturn]] void ThrowCodeError(Napi::Env env, const char* code, const std::string& message);
[[noreturn]] void ThrowTypeError(Napi::Env env, const char* code, const std::string& message);
[[noreturn]] void ThrowRangeError(Napi::Env env, const char* code, const std::string& message);

// Writes the libuv name of an errno (positive) into buf: "ECONNREFUSED". Never allocates
// (uv_err_name leaks a string for unknown codes; uv_err_name_r does not).
const char* ErrName(int err, char* buf, size_t size);

// --- argument checks (raw napi values so the hot path pays one napi call per argument) ---

// A non-negative int32 fd; anything else is a TypeError ERR_INVALID_ARG_TYPE.
int32_t ArgFd(napi_env env, napi_value value, const char* name = "fd");

// An integer within [min, max]: non-number → TypeError ERR_INVALID_ARG_TYPE, non-integer or out
// of range → RangeError ERR_OUT_OF_RANGE. `undefined` yields `fallback` when allow_undefined.
int64_t ArgInt(napi_env env, napi_value value, const char* name, int64_t min, int64_t max);
int64_t ArgIntOr(napi_env env, napi_value value, const char* name, int64_t min, int64_t max,
                 int64_t fallback);

// A Uint8Array / Buffer: its data pointer and byte length.
void ArgBytes(napi_env env, napi_value value, const char* name, uint8_t** data, size_t* length);

// Resolves (offset, length) against a buffer of `size` bytes: both optional (offset defaults to
// 0, length to the rest), RangeError ERR_OUT_OF_RANGE when the window leaves the buffer.
void ArgWindow(napi_env env, napi_value offset_value, napi_value length_value, size_t size,
               size_t* offset, size_t* length);

// A string argument (TypeError ERR_INVALID_ARG_TYPE otherwise) copied into buf (NUL ended);
// returns the length, or throws RangeError ERR_OUT_OF_RANGE when it does not fit.
size_t ArgString(napi_env env, napi_value value, const char* name, char* buf, size_t size);

bool IsUndefinedOrNull(napi_env env, napi_value value);

}  // namespace evloop
