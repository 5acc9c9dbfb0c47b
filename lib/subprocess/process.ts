// A running child (asyncio's asyncio.subprocess.Process): its pipes as streams, its exit as a
// future. The exit is a readiness fd (Linux: a pidfd) watched by the loop like any socket, and
// the child is reaped by pid only — Node's child_process and its SIGCHLD handling are untouched.
import * as os from 'os';
import { binding } from '../native/binding';
import type { EventLoop } from '../core/loop';
import type { Future } from '../core/future';
import { gather } from '../core/combinators';
import { StreamReader, StreamWriter } from '../streams/streams';
import { isConnectionError, validateBytes } from '../io/transports';
import { invalidArgType, invalidArgValue } from '../util/validate';

// Where pidfds are missing, the exit is polled: soon at first (most children are short), then
// backing off to a steady 100 ms.
const POLL_FIRST_MS = 1;
const POLL_MAX_MS = 100;

export interface ProcessPipes {
  stdin: StreamWriter | null;
  stdout: StreamReader | null;
  stderr: StreamReader | null;
}

function signalNumber(sig: unknown): number {
  if (typeof sig === 'number') {
    if (!Number.isInteger(sig) || sig < 0 || sig > 64) throw invalidArgValue('signal', sig, 'must be a signal number or name');
    return sig;
  }
  if (typeof sig === 'string') {
    const n = (os.constants.signals as Record<string, number | undefined>)[sig];
    if (n === undefined) throw invalidArgValue('signal', sig, 'must be a signal number or name');
    return n;
  }
  throw invalidArgType('signal', 'of type number or string', sig);
}

export class Process {
  /** The child's process id. */
  readonly pid: number;
  /** The child's stdin when it is `'pipe'`, else null. */
  readonly stdin: StreamWriter | null;
  /** The child's stdout when it is `'pipe'`, else null. */
  readonly stdout: StreamReader | null;
  /** The child's stderr when it is `'pipe'`, else null. */
  readonly stderr: StreamReader | null;
  readonly #loop: EventLoop;
  #pidfd: number;
  #returncode: number | null = null;
  #waiters = new Set<Future<number>>();
  #pollTimer: { cancel(): void } | null = null;
  #pollDelay = POLL_FIRST_MS;

  /** @internal Made by createSubprocessExec / createSubprocessShell. */
  constructor(loop: EventLoop, pid: number, pidfd: number, pipes: ProcessPipes) {
    this.#loop = loop;
    this.pid = pid;
    this.#pidfd = pidfd;
    this.stdin = pipes.stdin;
    this.stdout = pipes.stdout;
    this.stderr = pipes.stderr;
    loop._trackResource(this);
    if (pidfd >= 0) loop.addReader(pidfd, () => this.#poll());
    else this.#schedulePoll();
  }

  /** The exit code; -N when a signal N killed the child; null while it runs. */
  get returncode(): number | null {
    return this.#returncode;
  }

  #schedulePoll(): void {
    this.#pollTimer = this.#loop.callLater(this.#pollDelay, () => {
      this.#pollTimer = null;
      this.#poll();
      if (this.#returncode === null) this.#schedulePoll();
    });
    this.#pollDelay = Math.min(this.#pollDelay * 2, POLL_MAX_MS);
  }

  #poll(): void {
    if (this.#returncode !== null) return;
    let code: number | null;
    try {
      code = binding.waitChild(this.pid);
    } catch (err) {
      // ECHILD: someone else reaped our child (SIGCHLD set to SIG_IGN, a waitpid(-1) elsewhere).
      // The status is lost; asyncio reports 255 as well.
      this.#loop.callExceptionHandler({ message: `Unknown child process pid ${this.pid}, will report returncode 255`, exception: err });
      code = 255;
    }
    if (code === null) return; // not yet (a spurious wake-up)
    this.#exited(code);
  }

  #exited(code: number): void {
    this.#returncode = code;
    this.#release();
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const waiter of waiters) if (!waiter.done()) waiter.setResult(code);
  }

  #release(): void {
    if (this.#pidfd >= 0) {
      this.#loop.removeReader(this.#pidfd);
      binding.close(this.#pidfd);
      this.#pidfd = -1;
    }
    this.#pollTimer?.cancel();
    this.#pollTimer = null;
    this.#loop._untrackResource(this);
  }

  /** @internal The loop is closing while the child runs: stop watching it, kill nothing. */
  _closeForLoop(): void {
    if (this.#returncode !== null) return;
    if (this.#pidfd >= 0) {
      binding.close(this.#pidfd);
      this.#pidfd = -1;
    }
    this.#pollTimer?.cancel();
    this.#pollTimer = null;
    // The addon reaps it once it exits, so it never lingers as a zombie.
    binding.releaseChild(this.pid);
  }

  /** Resolves to the returncode once the child has exited. Cancelling the wait leaves the child alone. */
  wait(): Future<number> {
    const waiter = this.#loop.createFuture<number>();
    if (this.#returncode !== null) {
      waiter.setResult(this.#returncode);
      return waiter;
    }
    this.#waiters.add(waiter);
    waiter.addDoneCallback(() => {
      this.#waiters.delete(waiter);
    });
    return waiter;
  }

  /**
   * Sends `input` (if any) to stdin and closes it, reads stdout and stderr to their end, waits
   * for the exit: `[stdout, stderr]`, each null when that stream is not a pipe. All three run
   * together, so a child that writes a lot before it reads everything cannot deadlock.
   */
  communicate(input?: Uint8Array | null): Future<[Buffer | null, Buffer | null]> {
    if (input !== undefined && input !== null) validateBytes(input, 'input');
    const loop = this.#loop;
    const feed = this.stdin !== null ? loop.createTask(this.#feedStdin(this.stdin, input ?? null)) : null;
    const out = this.stdout?.read() ?? null;
    const err = this.stderr?.read() ?? null;
    const parts = gather([feed, out, err].filter((f) => f !== null) as Array<Future<unknown>>);
    const self = this;
    return loop.createTask(function* communicate(): Generator<unknown, [Buffer | null, Buffer | null], unknown> {
      // Cancelling communicate cancels the gather, and with it the feeding and the reads.
      yield* parts;
      yield* self.wait();
      return [out?.result() ?? null, err?.result() ?? null];
    });
  }

  *#feedStdin(stdin: StreamWriter, input: Uint8Array | null): Generator<unknown, void, unknown> {
    try {
      if (input !== null && input.length > 0) {
        stdin.write(input);
        yield* stdin.drain();
      }
    } catch (err) {
      // The child may exit without reading everything: not communicate's failure (asyncio).
      if (!isConnectionError(err)) throw err;
    } finally {
      stdin.close();
    }
  }

  /** Sends `signal` (a number or a name such as 'SIGHUP'). Does nothing once the child has been reaped. */
  sendSignal(signal: number | NodeJS.Signals): void {
    const sig = signalNumber(signal);
    if (this.#returncode !== null) return;
    try {
      binding.killChild(this.pid, sig);
    } catch (err) {
      // Exited but not yet reaped: nothing to signal (Popen.send_signal ignores it too).
      if ((err as { code?: string }).code !== 'ESRCH') throw err;
    }
  }

  /** SIGTERM. */
  terminate(): void {
    this.sendSignal(os.constants.signals.SIGTERM);
  }

  /** SIGKILL. */
  kill(): void {
    this.sendSignal(os.constants.signals.SIGKILL);
  }

  get [Symbol.toStringTag](): string {
    return `Process pid=${this.pid}${this.#returncode === null ? ' running' : ` returncode=${this.#returncode}`}`;
  }
}
