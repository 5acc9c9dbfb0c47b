/// <reference types="node" preserve="true" />
// A documented internal entry (`require('evloop/internal')`) for tests and tools that need the
// native binding itself. Not part of the public API: it may change in any release.
export { binding, type Binding, type NativePoller, type BackendName, type SocketAddress } from './native/binding';
export { BACKEND_NAMES, BACKEND_OPTIONS, EVENT_READ, EVENT_WRITE, EVENT_ERROR, EVENT_HUP } from './native/binding';
// The process-wide worker pool behind toThread (a Piscina instance), for tests that watch its threads.
export { defaultThreadPool } from './threads/to-thread';
// Task operations, part by part (the public entry has createTaskOps and MemoryQueue).
export { Registry, defineTasks, checkRunKey, checkRunQuery, TASK_DEFAULTS } from './ops/registry';
export { decide, retryPolicy, isTransient, HARD_MAX_ATTEMPTS } from './ops/retry-policy';
export { Scanner, localLease } from './ops/scanner';
export { WorkerPool } from './ops/worker';
export { ResponseCache, tagsOfChange, Tags, type CacheTag, type ResponseCacheOptions } from './ops/api/cache';
// How async-function task frames are carried ('embedder-data' on Node 20, else 'hooks'), whether
// they are carried now, and whether evloop's promise hooks are installed (the 'hooks' carrier
// installs them while an async-function task is pending).
export { asyncContextCarrier, framesCarried, promiseHooksInstalled } from './core/context';
export { RespParser, type RespParserOptions, type RespValue } from './redis/resp';
export { CommandEncoder, encodeCommand, type CommandArg } from './redis/encode';
export { PassBatch, type Batched, type PassBatchCalls } from './redis/pass-batch';
