/// <reference types="node" preserve="true" />
// The public surface of evloop (docs/api.md). Each concept lives in its own file.
import './io/loop-networking';
import './io/sock-ops';
import './threads/executor';
export { Selector, EVENT_READ, EVENT_WRITE, availableBackends, type SelectorKey, type SelectorOptions, type BackendOption } from './native/selector';
export * from './util/status';
export { Protocol, BufferedProtocol, DatagramProtocol, BaseProtocol, type ProtocolLike, type BufferedProtocolLike, type DatagramProtocolLike } from './io/protocols';
export type { Transport, DatagramTransport, WriteBufferLimits } from './io/transport-types';
export { SocketTransport } from './io/transports';
export { Server, type ServerOptions, type UnixServerOptions, type ProtocolFactory } from './io/server';
export { type ConnectionOptions } from './io/connection';
export { SslTransport, type TlsOption, type TlsCheckOptions, type TlsConnectionOptions } from './io/tls';
export { UdpTransport, type DatagramOptions } from './io/datagram';
export type { SocketAddress } from './native/binding';
export { createLogger, toLogger, formatMessage, LOG_LEVELS, type Logger, type LogLevel, type LogSink, type LoggerOptions, type LogMethod, type PinoLike } from './util/logger';
export { StreamReader, StreamReaderProtocol, StreamWriter, FlowControlProtocol, openConnection, openUnixConnection, startServer, startUnixServer, DEFAULT_LIMIT as STREAM_DEFAULT_LIMIT, type StreamReaderOptions, type StreamOptions, type ClientConnected } from './streams/streams';
export { connectionPool, isConnectionUsable, type StreamConnection, type ConnectionPoolOptions } from './pool/pool-connections';
export { CancelledError, TimeoutError, InvalidStateError, IncompleteReadError, LimitOverrunError, EventLoopError, BrokenBarrierError, QueueEmpty, QueueFull, QueueShutDown, RedisError, RedisConnectionError } from './util/errors';
export { Future, isFuture, type FutureState, type DoneCallback } from './core/future';
export { Handle, TimerHandle } from './core/handles';
export { EventLoop, newEventLoop, getRunningLoop, type EventLoopOptions, type ExceptionContext, type ExceptionHandler } from './core/loop';
export { Task, ensureFuture, currentTask, allTasks, type Coroutine, type TaskOptions } from './core/task';
export { sleep, gather, wait, shield, asCompleted, FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED, type GatherOptions, type WaitOptions, type ReturnWhen, type AsCompletedOptions, type AwaitedResult, type GatherResult, type GatherSettledResult } from './core/combinators';
export { waitFor, timeout, timeoutAt, Timeout } from './core/timeouts';
export { TaskGroup, type TaskGroupBody } from './core/taskgroup';
export { run, type RunOptions } from './core/runners';
export { Lock } from './sync/lock';
export { Event } from './sync/event';
export { Condition } from './sync/condition';
export { Semaphore, BoundedSemaphore } from './sync/semaphore';
export { Barrier } from './sync/barrier';
export type { Awaitable } from './sync/use';
export { Queue, type QueueOptions } from './queues/queue';
export { LifoQueue } from './queues/lifo-queue';
export { PriorityQueue, defaultCompare, type PriorityQueueOptions } from './queues/priority-queue';
export type { Compare } from './queues/heap';
export { Pool, type PoolOptions, type PoolStats, type AcquireOptions, type PoolEvent } from './pool/pool';
export { ReadPipeTransport, WritePipeTransport, type PipeProtocol } from './io/pipes';
export { Process } from './subprocess/process';
export { createSubprocessExec, createSubprocessShell, type SubprocessOptions, type StdioOption } from './subprocess/create';
export { Socket, socket, type SocketOptions, type SocketFamily, type SocketType, type ShutdownHow, type SocketOptionName, type SocketAddressInput } from './io/socket';
export { toThread } from './threads/to-thread';
export { type Executor } from './threads/executor';
export { MemoryQueue, type MemoryQueueOptions } from './ops/memory-queue';
export type { Queue as TaskQueue, QueueMessage, EnqueueOptions, NackOptions, Delivery, DeadLetterEntry, DeadLetterReason, QueueStatsSnapshot } from './ops/queue';
export type { TaskOps, TaskInfo, RunRecord, RunQuery, QueueStats, DeadLetter, Health, OpsChange } from './ops/types';
export { createTaskOps, type TaskOpsOptions, type EmbeddedTaskOps } from './ops/task-ops';
export type { TaskDefinition, TaskHandler, RunContext } from './ops/registry';
export type { DueItem, DueFunction, ScannerLease } from './ops/scanner';
export type { StopOptions } from './ops/worker';
export type { RetryPolicyOptions } from './ops/retry-policy';
export { startApiServer, type ApiServer, type ApiServerOptions } from './ops/api/server';
export { createRedisClient, RedisClient, RedisScript, DedicatedConnection, type RedisClientOptions, type SendOptions, type RedisCommands } from './redis/client';
export type { CommandArg } from './redis/encode';
export type { RespValue } from './redis/resp';
export { RedisQueue, type RedisQueueOptions } from './ops/redis-queue';
export { RedisLease, type RedisLeaseOptions } from './ops/redis-lease';
export { RedisRunStore, type RedisRunStoreOptions } from './ops/redis-run-store';
export { MemoryRunStore } from './ops/memory-run-store';
export type { RunStore, RunStoreLimits, RunPatch, ForeignChange } from './ops/run-store';

// TypeScript turns every re-export above into an accessor on `exports`, and that many accessors
// put the object in V8's dictionary mode: each `evloop.sleep(...)` in compiled user code (which
// reads the function off the module object at every call) would be a generic lookup plus a
// getter call, about 80 instructions. The module object is a plain copy instead, in fast mode.
const publicApi: Record<string, unknown> = Object.fromEntries(Object.keys(exports).map((name) => [name, (exports as Record<string, unknown>)[name]]));
Object.defineProperty(publicApi, '__esModule', { value: true });
module.exports = publicApi;
