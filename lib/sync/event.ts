// asyncio.Event: a flag tasks can wait for. A waiter woken by set() and cancelled before it
// resumed ends cancelled, as asyncio's coroutine raises CancelledError at its await (waiter.ts).
import type { Future } from '../core/future';
import { invalidArgValue } from '../util/validate';
import type { AbstractEventLoop as EventLoop } from '../core/events';
import { Waiter, WaiterQueue, bindLoop, resolvedTrue, NOTHING_TO_GIVE_BACK } from './waiter';

export class Event {
  private _value = false;
  /** @internal */ _waiters = new WaiterQueue<true>();
  private _loop: EventLoop | null = null;

  constructor(loop?: never) {
    if (loop !== undefined) throw invalidArgValue('loop', loop, 'is not accepted: an Event binds to the running loop on first wait');
  }

  isSet(): boolean {
    return this._value;
  }

  /** Sets the flag and wakes every waiter (in the order they came). */
  set(): void {
    if (this._value) return;
    this._value = true;
    const waiters = this._waiters;
    for (let w = waiters.shift(); w !== null; w = waiters.shift()) w._grant(NOTHING_TO_GIVE_BACK, true);
  }

  clear(): void {
    this._value = false;
  }

  /** Resolves to true once the flag is set (at once if it is). */
  wait(): Future<true> {
    if (this._value) return resolvedTrue();
    const loop = (this._loop = bindLoop(this._loop, this));
    const w = new Waiter<true>(loop);
    this._waiters.push(w);
    return w;
  }

  toString(): string {
    const w = this._waiters.length;
    return `<Event [${this._value ? 'set' : 'unset'}${w !== 0 ? `, waiters:${w}` : ''}]>`;
  }
}
