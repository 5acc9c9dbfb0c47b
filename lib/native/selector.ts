// asyncio's `selectors`, on the native Poller: level-triggered readiness for any fd.
import { BACKEND_OPTIONS, EVENT_READ, EVENT_WRITE, binding, type BackendName, type BackendOption, type NativePoller } from './binding';
import { codedError, invalidArgType, invalidArgValue, validateOneOf, validateFd, validateInteger, validateObject } from '../util/validate';

export { EVENT_READ, EVENT_WRITE, type BackendOption };

export interface SelectorKey<D = unknown> {
  readonly fd: number;
  readonly events: number;
  readonly data: D | undefined;
}

export interface SelectorOptions {
  backend?: BackendOption;
}


/** The backends this platform has, best first; `'auto'` means the first of them. */
export function availableBackends(): BackendName[] {
  return binding.backends.slice();
}

/**
 * Resolves a backend option to a backend this platform has. Checked in JS, before native code
 * runs, so a typo is a TypeError and a missing backend an Error with a code, not a crash.
 */
export function resolveBackend(backend: unknown = 'auto'): BackendName {
  if (typeof backend !== 'string') throw invalidArgType('backend', 'of type string', backend);
  validateOneOf(backend, 'backend', BACKEND_OPTIONS);
  const available = binding.backends;
  if (backend === 'auto') return available[0]!;
  if (!available.includes(backend as BackendName)) {
    throw codedError(
      Error,
      'ERR_BACKEND_UNAVAILABLE',
      `The '${backend}' backend is not available on ${process.platform} (available: ${available.join(', ')})`,
    );
  }
  return backend as BackendName;
}

// The native ERROR and HUP bits wake both directions, as CPython's EpollSelector does: a reader
// then sees EOF or the error from recv, a writer the error from send.
const { READ, WRITE, ERROR, HUP } = binding.constants;
const WAKES_READER = READ | ERROR | HUP;
const WAKES_WRITER = WRITE | ERROR | HUP;

export function validateEvents(events: unknown): number {
  validateInteger(events, 'events');
  if ((events as number) < 1 || ((events as number) & ~(EVENT_READ | EVENT_WRITE)) !== 0) {
    throw invalidArgValue('events', events, 'must be EVENT_READ, EVENT_WRITE or both');
  }
  return events as number;
}

export class Selector<D = unknown> {
  readonly backend: BackendName;
  #poller: NativePoller | null;
  readonly #keys = new Map<number, SelectorKey<D>>();

  constructor(options: SelectorOptions = {}) {
    validateObject(options, 'options');
    this.backend = resolveBackend(options.backend);
    this.#poller = new binding.Poller(this.backend);
  }

  #open(): NativePoller {
    if (this.#poller === null) throw codedError(Error, 'ERR_SELECTOR_CLOSED', 'The selector is closed');
    return this.#poller;
  }

  register(fd: number, events: number, data?: D): SelectorKey<D> {
    const poller = this.#open();
    validateFd(fd);
    validateEvents(events);
    if (this.#keys.has(fd)) throw codedError(Error, 'EEXIST', `fd ${fd} is already registered`);
    poller.add(fd, events);
    const key: SelectorKey<D> = Object.freeze({ fd, events, data });
    this.#keys.set(fd, key);
    return key;
  }

  modify(fd: number, events: number, data?: D): SelectorKey<D> {
    const poller = this.#open();
    validateFd(fd);
    validateEvents(events);
    const old = this.#keys.get(fd);
    if (old === undefined) throw codedError(Error, 'ENOENT', `fd ${fd} is not registered`);
    if (old.events !== events) poller.modify(fd, events);
    const key: SelectorKey<D> = Object.freeze({ fd, events, data });
    this.#keys.set(fd, key);
    return key;
  }

  unregister(fd: number): SelectorKey<D> {
    const poller = this.#open();
    validateFd(fd);
    const key = this.#keys.get(fd);
    if (key === undefined) throw codedError(Error, 'ENOENT', `fd ${fd} is not registered`);
    this.#keys.delete(fd);
    try {
      poller.remove(fd);
    } catch (err) {
      // The fd was closed while registered (binding.close already dropped it from the poller):
      // unregistering it is still the right thing for the caller to do, as in asyncio.
      if ((err as { code?: string }).code !== 'ENOENT' && (err as { code?: string }).code !== 'EBADF') throw err;
    }
    return key;
  }

  /**
   * Waits for readiness: `timeoutMs` undefined/null blocks until an fd is ready, `<= 0` polls.
   * Returns `[key, events]` pairs, `events` restricted to what the key asked for.
   */
  select(timeoutMs?: number | null): Array<[SelectorKey<D>, number]> {
    const poller = this.#open();
    let timeout = -1;
    if (timeoutMs !== undefined && timeoutMs !== null) {
      if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs)) throw invalidArgType('timeoutMs', 'of type number', timeoutMs);
      timeout = timeoutMs <= 0 ? 0 : timeoutMs === Infinity ? -1 : timeoutMs;
    }
    const n = poller.wait(timeout);
    const raw = poller.events;
    const ready: Array<[SelectorKey<D>, number]> = [];
    for (let i = 0; i < n; i++) {
      const key = this.#keys.get(raw[2 * i]!);
      if (key === undefined) continue;
      const bits = raw[2 * i + 1]!;
      const events = ((bits & WAKES_READER ? EVENT_READ : 0) | (bits & WAKES_WRITER ? EVENT_WRITE : 0)) & key.events;
      if (events !== 0) ready.push([key, events]);
    }
    return ready;
  }

  getKey(fd: number): SelectorKey<D> | undefined {
    this.#open();
    return this.#keys.get(fd);
  }

  /** A read-only view of fd → key, as asyncio's `get_map()`. */
  getMap(): ReadonlyMap<number, SelectorKey<D>> {
    this.#open();
    return this.#keys;
  }

  get closed(): boolean {
    return this.#poller === null;
  }

  /** Idempotent: a second close does nothing. */
  close(): void {
    if (this.#poller === null) return;
    const poller = this.#poller;
    this.#poller = null;
    this.#keys.clear();
    poller.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
