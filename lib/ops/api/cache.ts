// Cached query answers (API.md "Cached queries"): identical GETs within the TTL are served from
// memory, and every change reported by the operations layer drops the answers it can affect, so a
// finished run shows at once whatever the TTL. An entry keeps its answer already serialised, so a
// hit is one Map lookup and one write: that is what makes a hot `GET /runs` cheap.
import { Buffer } from 'node:buffer';
import type { OpsChange } from '../types';

/** What an answer depends on; a change to any of these drops it. */
export type CacheTag = string;

export const Tags = Object.freeze({
  health: 'health',
  queue: 'queue',
  deadLetters: 'deadLetters',
  /** Every run list, whatever its filter. */
  runLists: 'runs',
  /** Run lists filtered on one task. */
  runList: (task: string): CacheTag => `runs?task=${task}`,
  /** Run lists with no task filter. */
  runListAll: 'runs?task=*',
  run: (id: string): CacheTag => `run:${id}`,
  /** Every single-run answer. */
  anyRun: 'run:*',
});

/** An answer as it goes on the wire. */
export interface CachedAnswer {
  /** The JSON body with `"cache":true`, ready to send on a hit. */
  readonly hitBody: Buffer;
  /** When the answer was computed (epoch ms), the `cache_time` it carries. */
  readonly computedAt: number;
  /** When it stops being served (epoch ms). */
  readonly expiresAt: number;
}

/** A freshly computed answer: the body to send now and, if it may be kept, its cache entry. */
export interface FreshAnswer {
  readonly body: Buffer;
  readonly computedAt: number;
}

interface Entry extends CachedAnswer {
  readonly tags: readonly CacheTag[];
}

interface Computation {
  run: Promise<FreshAnswer>;
  readonly tags: readonly CacheTag[];
  stale: boolean;
}

export interface ResponseCacheOptions {
  /** How long an answer is served from the cache, in ms; 0 turns caching off. */
  ttl: number;
  /** At most this many answers are kept (distinct query strings are unbounded otherwise). */
  maxEntries?: number;
  /** The clock, replaceable for tests of expiry. */
  now?: () => number;
}

/**
 * Appends `"cache":…,"cache_time":…` to a serialised JSON object. Done on the string so that the
 * cached and the fresh bodies cost one `JSON.stringify` between them.
 */
function withCacheFields(json: string, cache: boolean, cacheTime: string): string {
  const sep = json.length > 2 ? ',' : '';
  return `${json.slice(0, -1)}${sep}"cache":${cache},"cache_time":"${cacheTime}"}`;
}

export class ResponseCache {
  readonly ttl: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry>();
  // Tag → keys of the entries carrying it, so a change costs what it drops, not the cache's size.
  private readonly byTag = new Map<CacheTag, Set<string>>();
  // Computations under way. A change marks those it affects stale: they may have read the old
  // state, so their answer is sent but not kept.
  private readonly computing = new Set<Computation>();
  // Identical misses share one computation, so a burst of dashboards polling an expired answer
  // asks the store once.
  private readonly pending = new Map<string, Computation>();

  constructor(options: ResponseCacheOptions) {
    this.ttl = options.ttl;
    this.maxEntries = options.maxEntries ?? 1000;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The live entry for a key, or undefined (an expired one is removed). */
  get(key: string): CachedAnswer | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.remove(key);
      return undefined;
    }
    return entry;
  }

  /** Seconds an answer computed at `computedAt` stays fresh, for `Cache-Control: max-age`. */
  maxAge(answer: { expiresAt: number } | undefined): number {
    if (this.ttl <= 0) return 0;
    const remaining = answer ? answer.expiresAt - this.now() : this.ttl;
    return Math.max(0, Math.floor(remaining / 1000));
  }

  /**
   * Computes the answer for `key` (the path with its query string) and keeps it unless a change
   * to one of `tags` happened meanwhile. `shared`: identical concurrent computations are one (a
   * `no-cache` request passes false: it asked for an answer computed after it arrived). `store`:
   * keep the answer (a `no-store` request passes false).
   */
  compute(
    key: string,
    tags: readonly CacheTag[],
    produce: () => PromiseLike<unknown> | unknown,
    { shared = true, store = true }: { shared?: boolean; store?: boolean } = {},
  ): Promise<FreshAnswer> {
    if (shared) {
      const inFlight = this.pending.get(key);
      if (inFlight !== undefined) return inFlight.run;
    }
    const computation: Computation = { run: undefined!, tags, stale: false };
    this.computing.add(computation);
    computation.run = (async (): Promise<FreshAnswer> => {
      try {
        const data = await produce();
        const computedAt = this.now();
        const cacheTime = new Date(computedAt).toISOString();
        const json = JSON.stringify(data);
        const body = Buffer.from(withCacheFields(json, false, cacheTime));
        if (store && this.ttl > 0 && !computation.stale) {
          this.store(key, {
            hitBody: Buffer.from(withCacheFields(json, true, cacheTime)),
            computedAt,
            expiresAt: computedAt + this.ttl,
            tags,
          });
        }
        return { body, computedAt };
      } finally {
        this.computing.delete(computation);
        if (this.pending.get(key) === computation) this.pending.delete(key);
      }
    })();
    if (shared && this.computing.has(computation)) this.pending.set(key, computation);
    return computation.run;
  }

  /** Drops every answer carrying one of `tags`. */
  drop(tags: readonly CacheTag[]): void {
    for (const tag of tags) {
      const keys = this.byTag.get(tag);
      if (keys !== undefined) for (const key of keys) this.remove(key);
    }
    if (this.computing.size === 0) return;
    const set = new Set(tags);
    for (const c of this.computing) if (c.tags.some((tag) => set.has(tag))) c.stale = true;
    // Later requests must not join a computation that may have read the old state.
    for (const [key, c] of this.pending) if (c.stale) this.pending.delete(key);
  }

  /** Drops what an operations change can affect. */
  onChange(change: OpsChange): void {
    this.drop(tagsOfChange(change));
  }

  clear(): void {
    this.entries.clear();
    this.byTag.clear();
    for (const c of this.computing) c.stale = true;
    this.pending.clear();
  }

  private store(key: string, entry: Entry): void {
    this.remove(key);
    if (this.entries.size >= this.maxEntries) {
      // Map order is insertion order: the first key is the oldest answer.
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.remove(oldest.value);
    }
    this.entries.set(key, entry);
    for (const tag of entry.tags) {
      let keys = this.byTag.get(tag);
      if (keys === undefined) this.byTag.set(tag, (keys = new Set()));
      keys.add(key);
    }
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    for (const tag of entry.tags) {
      const keys = this.byTag.get(tag);
      if (keys === undefined) continue;
      keys.delete(key);
      if (keys.size === 0) this.byTag.delete(tag);
    }
  }
}

/**
 * The tags a change drops. A run that changes can move between categories and shifts every
 * list's order and total, so it drops every list that could hold it (all lists, or those filtered
 * on its task), its own answer, and the queue figures its state feeds.
 */
export function tagsOfChange(change: OpsChange): CacheTag[] {
  switch (change.kind) {
    case 'run': {
      const tags: CacheTag[] = [Tags.queue];
      if (change.task !== undefined) tags.push(Tags.runListAll, Tags.runList(change.task));
      else tags.push(Tags.runLists);
      tags.push(change.runId !== undefined ? Tags.run(change.runId) : Tags.anyRun);
      return tags;
    }
    case 'queue':
      return [Tags.queue];
    case 'deadLetter':
      return [Tags.deadLetters, Tags.queue];
    default:
      // An unknown kind from a newer operations layer: drop everything rather than show stale data.
      return [Tags.health, Tags.queue, Tags.deadLetters, Tags.runLists, Tags.anyRun];
  }
}
