// Cached query answers (API.md "Cached queries"): identical GETs within the TTL are served from
// memory, and every change reported by the operations layer drops the answers it can affect, so a
// finished run shows at once whatever the TTL. An entry keeps its answer already serialised, so a
// hit is one Map lookup and one write: that is what makes a hot `GET /runs` cheap.
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
  // Tag → the change number that last dropped it. A computation that began before that number
  // may have read the old state, so its answer is sent but not kept.
  private readonly droppedAt = new Map<CacheTag, number>();
  private changeNo = 0;
  // Identical misses share one computation, so a burst of dashboards polling an expired answer
  // asks the store once.
  private readonly pending = new Map<string, { run: Promise<FreshAnswer>; tags: readonly CacheTag[] }>();

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
      this.entries.delete(key);
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
    const startedAt = this.changeNo;
    const run = (async (): Promise<FreshAnswer> => {
      const data = await produce();
      const computedAt = this.now();
      const cacheTime = new Date(computedAt).toISOString();
      const json = JSON.stringify(data);
      const body = Buffer.from(withCacheFields(json, false, cacheTime));
      if (store && this.ttl > 0 && !this.droppedSince(tags, startedAt)) {
        this.store(key, {
          hitBody: Buffer.from(withCacheFields(json, true, cacheTime)),
          computedAt,
          expiresAt: computedAt + this.ttl,
          tags,
        });
      }
      return { body, computedAt };
    })();
    if (shared) {
      this.pending.set(key, { run, tags });
      const clear = (): void => {
        if (this.pending.get(key)?.run === run) this.pending.delete(key);
      };
      run.then(clear, clear);
    }
    return run;
  }

  /** Drops every answer carrying one of `tags`. */
  drop(tags: readonly CacheTag[]): void {
    const no = ++this.changeNo;
    for (const tag of tags) this.droppedAt.set(tag, no);
    const set = new Set(tags);
    const hit = (entryTags: readonly CacheTag[]): boolean => entryTags.some((tag) => set.has(tag));
    for (const [key, entry] of this.entries) if (hit(entry.tags)) this.entries.delete(key);
    // A computation under way may have read the old state: later requests must not join it.
    for (const [key, p] of this.pending) if (hit(p.tags)) this.pending.delete(key);
  }

  /** Drops what an operations change can affect. */
  onChange(change: OpsChange): void {
    this.drop(tagsOfChange(change));
  }

  clear(): void {
    this.changeNo++;
    this.entries.clear();
    this.pending.clear();
  }

  private droppedSince(tags: readonly CacheTag[], changeNo: number): boolean {
    if (this.changeNo === changeNo) return false;
    for (const tag of tags) {
      const at = this.droppedAt.get(tag);
      if (at !== undefined && at > changeNo) return true;
    }
    return false;
  }

  private store(key: string, entry: Entry): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      // Map order is insertion order: the first key is the oldest answer.
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, entry);
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
