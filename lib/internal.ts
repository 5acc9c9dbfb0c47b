// A documented internal entry (`require('evloop/internal')`) for tests and tools that need the
// native binding itself. Not part of the public API: it may change in any release.
export { binding, type Binding, type NativePoller, type BackendName, type SocketAddress } from './native/binding';
export { BACKEND_NAMES, BACKEND_OPTIONS, EVENT_READ, EVENT_WRITE, EVENT_ERROR, EVENT_HUP } from './native/binding';
// The process-wide worker pool behind toThread (a Piscina instance), for tests that watch its threads.
export { defaultThreadPool } from './threads/to-thread';
