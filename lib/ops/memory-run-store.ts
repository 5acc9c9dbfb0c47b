// Run records in this process's memory: the embedded default. Answers at once (plain values).
// Finished runs are dropped oldest first past the count, and past the age when one is set (checked
// as runs finish, so an idle process keeps what it had).
import { statusCategory, statusMessage } from '../util/status';
import { validateInteger, validateMs } from '../util/validate';
import type { RunPatch, RunStore, RunStoreLimits } from './run-store';
import { copyRun } from './run-store';
import type { RunQuery, RunRecord } from './types';

export class MemoryRunStore implements RunStore {
  readonly kind = 'memory' as const;
  readonly maxFinished: number;
  readonly maxAge: number;
  private readonly runs = new Map<string, RunRecord>();
  // Finished ids in finishing order with their end time; a head index instead of shift().
  private readonly finished: string[] = [];
  private readonly finishedAt: number[] = [];
  private finishedHead = 0;

  constructor(limits: RunStoreLimits = {}) {
    this.maxFinished = limits.maxFinishedRuns === undefined ? 10_000 : validateInteger(limits.maxFinishedRuns, 'options.maxFinishedRuns', 0);
    this.maxAge = limits.maxRunAge === undefined ? 0 : validateMs(limits.maxRunAge, 'options.maxRunAge');
  }

  get size(): number {
    return this.runs.size;
  }

  insert(run: RunRecord): void {
    if (!this.runs.has(run.id)) this.runs.set(run.id, run);
  }

  discard(id: string): void {
    this.runs.delete(id);
  }

  get(id: string): RunRecord | undefined {
    return this.runs.get(id);
  }

  list(query: RunQuery): { runs: RunRecord[]; total: number } {
    const all = [...this.runs.values()];
    const out: RunRecord[] = [];
    let total = 0;
    for (let i = all.length - 1; i >= 0; i--) {
      const run = all[i]!;
      if (query.task !== undefined && run.task !== query.task) continue;
      if (query.category !== undefined && run.category !== query.category) continue;
      if (total >= query.offset && out.length < query.limit) out.push(copyRun(run));
      total++;
    }
    return { runs: out, total };
  }

  update(id: string, patch: RunPatch): RunRecord | undefined {
    const run = this.runs.get(id);
    if (run === undefined || run.endedAt !== undefined) return undefined;
    if (patch.step === 'start') {
      run.attempts++;
      run.startedAt ??= new Date().toISOString();
    }
    if (patch.result !== undefined) run.result = patch.result;
    if (patch.error === null) delete run.error;
    else if (patch.error !== undefined) run.error = patch.error;
    run.status = patch.status;
    run.statusMessage = statusMessage(patch.status);
    run.category = statusCategory(patch.status);
    if (patch.step === 'finish') this.finish(run);
    return run;
  }

  private finish(run: RunRecord): void {
    const now = Date.now();
    run.endedAt = new Date(now).toISOString();
    this.finished.push(run.id);
    this.finishedAt.push(now);
    const oldest = this.maxAge > 0 ? now - this.maxAge : -Infinity;
    while (this.finished.length - this.finishedHead > this.maxFinished || (this.finishedHead < this.finished.length && this.finishedAt[this.finishedHead]! < oldest)) {
      const id = this.finished[this.finishedHead]!;
      this.finished[this.finishedHead++] = '';
      this.runs.delete(id);
    }
    if (this.finishedHead > 1024 && this.finishedHead * 2 > this.finished.length) {
      this.finished.splice(0, this.finishedHead);
      this.finishedAt.splice(0, this.finishedHead);
      this.finishedHead = 0;
    }
  }
}

