// The public surface of evloop (../shared/API.md). Each concept lives in its own file.
export { Selector, EVENT_READ, EVENT_WRITE, availableBackends, type SelectorKey, type SelectorOptions, type BackendOption } from './selector';
export * from './status';
export { createLogger, toLogger, formatMessage, LOG_LEVELS, type Logger, type LogLevel, type LogSink, type LoggerOptions, type LogMethod, type PinoLike } from './logger';
export { StreamReader, StreamReaderProtocol, StreamWriter, FlowControlProtocol, openConnection, openUnixConnection, startServer, startUnixServer, DEFAULT_LIMIT as STREAM_DEFAULT_LIMIT, type StreamReaderOptions, type StreamOptions, type ClientConnected } from './streams';
export { connectionPool, isConnectionUsable, type StreamConnection, type ConnectionPoolOptions } from './pool-connections';
