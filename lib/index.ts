// The public surface of evloop (../shared/API.md). Each concept lives in its own file.
export { Selector, EVENT_READ, EVENT_WRITE, availableBackends, type SelectorKey, type SelectorOptions, type BackendOption } from './selector';
export * from './status';
export { createLogger, toLogger, formatMessage, LOG_LEVELS, type Logger, type LogLevel, type LogSink, type LoggerOptions, type LogMethod, type PinoLike } from './logger';
export { StreamReader, StreamReaderProtocol, StreamWriter, FlowControlProtocol, openConnection, openUnixConnection, startServer, startUnixServer, DEFAULT_LIMIT as STREAM_DEFAULT_LIMIT, type StreamReaderOptions, type StreamOptions, type ClientConnected } from './streams';
export { connectionPool, isConnectionUsable, type StreamConnection, type ConnectionPoolOptions } from './pool-connections';
export { CancelledError, TimeoutError, InvalidStateError, IncompleteReadError, LimitOverrunError, EventLoopError } from './errors';
export { Future, isFuture, type FutureState, type DoneCallback } from './future';
export { EventLoop, Handle, TimerHandle, newEventLoop, getRunningLoop, type EventLoopOptions, type ExceptionContext, type ExceptionHandler } from './loop';
export { Task, ensureFuture, currentTask, allTasks, type Coroutine, type TaskOptions } from './task';
export { sleep, gather, wait, shield, asCompleted, FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED, type GatherOptions, type WaitOptions, type ReturnWhen, type AsCompletedOptions } from './combinators';
export { waitFor, timeout, timeoutAt, Timeout } from './timeouts';
export { TaskGroup, type TaskGroupBody } from './taskgroup';
export { run, type RunOptions } from './runners';
export { Pool, type PoolOptions, type PoolStats, type AcquireOptions, type PoolEvent } from './pool';
