// What a failed run's status code makes the worker do next (API.md, "Task operations"): one
// signed integer decides, the same one the API, the logs and the dashboard show.
import { statusCategory } from '../util/status';
import { validateInteger, validateMs, validateObject } from '../util/validate';

/** No run is attempted more often than this, whatever its band or `retries` say. */
export const HARD_MAX_ATTEMPTS = 25;

// errno and HTTP failures that a second try may well not see: retried as "retry optional".
const TRANSIENT_ERRNO: ReadonlySet<number> = new Set([-111 /* ECONNREFUSED */, -104 /* ECONNRESET */, -110 /* ETIMEDOUT */, -11 /* EAGAIN */, -32 /* EPIPE */]);
const TRANSIENT_HTTP: ReadonlySet<number> = new Set([-408, -429]);

export interface RetryPolicyOptions {
  /** First back-off of the retry-required and retry-optional bands, doubled per attempt (ms, default 100). */
  backoffBase?: number;
  /** Upper bound of that back-off (ms, default 60 000). */
  backoffMax?: number;
  /** Upper bound of the doubling retry-later delay (ms, default 3 600 000). */
  retryLaterMax?: number;
}

export interface RetryPolicy {
  readonly backoffBase: number;
  readonly backoffMax: number;
  readonly retryLaterMax: number;
}

export type Decision =
  | { readonly action: 'retry'; readonly delay: number; readonly why: string }
  | { readonly action: 'deadLetter'; readonly why: string };

export function retryPolicy(options: RetryPolicyOptions = {}): RetryPolicy {
  validateObject(options, 'retry');
  return Object.freeze({
    backoffBase: options.backoffBase === undefined ? 100 : validateMs(options.backoffBase, 'retry.backoffBase'),
    backoffMax: options.backoffMax === undefined ? 60_000 : validateMs(options.backoffMax, 'retry.backoffMax'),
    retryLaterMax: options.retryLaterMax === undefined ? 3_600_000 : validateMs(options.retryLaterMax, 'retry.retryLaterMax'),
  });
}

/** True for the errno and HTTP codes retried as "retry optional" (ECONNREFUSED, …, 408, 429, 5xx). */
export function isTransient(status: number): boolean {
  return TRANSIENT_ERRNO.has(status) || TRANSIENT_HTTP.has(status) || (status <= -500 && status >= -599);
}

function doubling(base: number, attempts: number, max: number): number {
  return Math.min(base * 2 ** Math.max(0, attempts - 1), max);
}

/**
 * The next step after attempt number `attempts` (1-based, the one that just failed) ended with
 * `status`, for a task allowing `retries` re-runs and waiting `retryDelay` before a retry-later.
 */
export function decide(status: number, attempts: number, task: { retries: number; retryDelay: number }, policy: RetryPolicy): Decision {
  validateInteger(attempts, 'attempts', 1);
  const capped = attempts >= HARD_MAX_ATTEMPTS;
  const optional = (why: string): Decision =>
    attempts <= task.retries && !capped
      ? { action: 'retry', delay: doubling(policy.backoffBase, attempts, policy.backoffMax), why }
      : { action: 'deadLetter', why: `${why}, ${task.retries} retries used` };
  const category = status >= 0 ? 'success' : statusCategory(status);
  switch (category) {
    case 'retryRequired':
      return capped
        ? { action: 'deadLetter', why: `retry required, ${HARD_MAX_ATTEMPTS} attempts made` }
        : { action: 'retry', delay: doubling(policy.backoffBase, attempts, policy.backoffMax), why: 'retry required' };
    case 'retryLater':
      return capped
        ? { action: 'deadLetter', why: `retry later, ${HARD_MAX_ATTEMPTS} attempts made` }
        : { action: 'retry', delay: doubling(task.retryDelay, attempts, policy.retryLaterMax), why: 'retry later' };
    case 'retryOptional':
      return optional('retry optional');
    case 'errno':
    case 'http':
      return isTransient(status) ? optional(`transient ${category} failure`) : { action: 'deadLetter', why: `${category} failure, not transient` };
    case 'notRepeatable':
      return { action: 'deadLetter', why: 'not repeatable' };
    case 'unhandled':
      return { action: 'deadLetter', why: 'unhandled error' };
    default:
      // Reserved bands (and, defensively, codes no failure can have): nothing says a retry is safe.
      return { action: 'deadLetter', why: `${category} code` };
  }
}
