// A stand-in for the BSD <sys/event.h>, so that native/poller_kqueue.cc can be type-checked on
// Linux, where it is otherwise never compiled (test/native/kqueue-compile.test.js). It is written
// from the kqueue(2) manual pages of macOS, FreeBSD and NetBSD (the documented structure, macro
// and calls), not from any system header. It only declares: the one implementation of
// kqueue()/kevent() against it is the test-only poll(2) emulation beside it
// (kqueue-emulation.cc, for kqueue-smoke.cc); the constants' values are this shim's own, not a
// kernel's, and the addon is never built against it.
//
// The documented layouts differ where poller_kqueue.cc could trip over them, so the check runs
// once per layout, chosen with -DEVLOOP_SHIM_OS=...:
//   1 (default) macOS: short filter and flags, `intptr_t data`, `void *udata`, int counts.
//   2 FreeBSD 12+ (and OpenBSD's types): `int64_t data`, and FreeBSD's `uint64_t ext[4]`.
//   3 NetBSD: unsigned 32-bit filter and flags (EVFILT_* are unsigned), `int64_t data`,
//     `intptr_t udata` (what the installed NetBSD 10 man page says), size_t counts.
// -DEVLOOP_SHIM_ILP32 gives ident and data the widths uintptr_t / intptr_t have on a 32-bit
// target, which a 64-bit host cannot otherwise show: there intptr_t and int64_t are one type.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifndef EVLOOP_SHIM_OS
#define EVLOOP_SHIM_OS 1
#endif

#ifdef EVLOOP_SHIM_ILP32
typedef uint32_t evloop_shim_ident_t;
typedef int32_t evloop_shim_intptr_t;
#else
typedef uintptr_t evloop_shim_ident_t;
typedef intptr_t evloop_shim_intptr_t;
#endif

#if EVLOOP_SHIM_OS == 1
typedef int16_t evloop_shim_filter_t;
typedef uint16_t evloop_shim_flags_t;
typedef evloop_shim_intptr_t evloop_shim_data_t;
typedef void* evloop_shim_udata_t;
typedef int evloop_shim_count_t;
#elif EVLOOP_SHIM_OS == 2
typedef short evloop_shim_filter_t;
typedef unsigned short evloop_shim_flags_t;
typedef int64_t evloop_shim_data_t;
typedef void* evloop_shim_udata_t;
typedef int evloop_shim_count_t;
#elif EVLOOP_SHIM_OS == 3
typedef uint32_t evloop_shim_filter_t;
typedef uint32_t evloop_shim_flags_t;
typedef int64_t evloop_shim_data_t;
typedef evloop_shim_intptr_t evloop_shim_udata_t;
typedef size_t evloop_shim_count_t;
#else
#error "EVLOOP_SHIM_OS must be 1 (macOS), 2 (FreeBSD) or 3 (NetBSD)"
#endif

struct timespec;

struct kevent {
  evloop_shim_ident_t ident;    // the fd, for the read and write filters
  evloop_shim_filter_t filter;  // EVFILT_*
  evloop_shim_flags_t flags;    // EV_* actions in, EV_* conditions out
  uint32_t fflags;              // filter flags (NOTE_*); with EV_EOF, a socket's error
  evloop_shim_data_t data;      // filter data; with EV_ERROR, the errno
  evloop_shim_udata_t udata;    // passed through unchanged
#if EVLOOP_SHIM_OS == 2
  uint64_t ext[4];
#endif
};

// Filters. NetBSD numbers them from 0 (unsigned); macOS and FreeBSD use negative numbers.
#if EVLOOP_SHIM_OS == 3
#define EVFILT_READ 0U
#define EVFILT_WRITE 1U
#else
#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#endif

// Actions (flags in).
#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ENABLE 0x0004
#define EV_DISABLE 0x0008
#define EV_ONESHOT 0x0010
#define EV_CLEAR 0x0020
#define EV_RECEIPT 0x0040
// Conditions (flags out).
#define EV_ERROR 0x4000
#define EV_EOF 0x8000

// Read/write filter flag: a low-water mark in `data`.
#define NOTE_LOWAT 0x0001

#ifdef __cplusplus
extern "C" {
#endif

// EV_SET is a statement-like macro (do ... while (0)) that evaluates `kevp_` once and assigns
// the fields, so each argument converts as an assignment to its field would. The local is
// called `kevp` on purpose: FreeBSD's C++ form of the macro has one by that name, so an argument
// naming a variable `kevp` would silently bind to it there.
#if EVLOOP_SHIM_OS == 2
#define EVLOOP_SHIM_CLEAR_EXT(k) ((k)->ext[0] = (k)->ext[1] = (k)->ext[2] = (k)->ext[3] = 0)
#else
#define EVLOOP_SHIM_CLEAR_EXT(k) ((void)(k))
#endif
#define EV_SET(kevp_, a, b, c, d, e, f) \
  do {                                  \
    struct kevent* kevp = (kevp_);      \
    kevp->ident = (a);                  \
    kevp->filter = (b);                 \
    kevp->flags = (c);                  \
    kevp->fflags = (d);                 \
    kevp->data = (e);                   \
    kevp->udata = (f);                  \
    EVLOOP_SHIM_CLEAR_EXT(kevp);        \
  } while (0)

int kqueue(void);
int kevent(int kq, const struct kevent* changelist, evloop_shim_count_t nchanges,
           struct kevent* eventlist, evloop_shim_count_t nevents,
           const struct timespec* timeout);

#ifdef __cplusplus
}
#endif
