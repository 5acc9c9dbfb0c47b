// The operations surface the REST API, the dashboard and the CLI program against; the embedded
// (memory) and Redis implementations both provide it.
export interface TaskInfo { name: string; retries: number; timeout: number; retryDelay: number }
export interface RunRecord {
  id: string; task: string; key: string; params: unknown;
  status: number; statusMessage: string; category: string; attempts: number;
  result?: unknown; error?: { message: string; code?: string };
  createdAt: string; startedAt?: string; endedAt?: string; // ISO 8601
}
export interface RunQuery { task?: string; category?: string; limit: number; offset: number }
export interface QueueStats { depth: number; inFlight: number; delayed: number; deadLetters: number }
export interface DeadLetter { id: string; runId: string; task: string; key: string; status: number; statusMessage: string; failedAt: string }
export interface Health { status: 'ok'; queue: 'memory' | 'redis'; scanner: 'active' | 'standby' | 'off'; workers: number }
/** What changed, so cached answers that show it can be dropped. */
export interface OpsChange { kind: 'run' | 'queue' | 'deadLetter'; runId?: string; task?: string }
export interface TaskOps {
  health(): Health;
  listTasks(): TaskInfo[];
  /** Errors carry .code: ERR_UNKNOWN_TASK (→404), ERR_DUPLICATE_KEY (→409), ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE (→400). */
  startRun(task: string, input: { params?: unknown; key?: string }): PromiseLike<RunRecord>;
  getRun(id: string): PromiseLike<RunRecord | undefined>;
  listRuns(query: RunQuery): PromiseLike<{ runs: RunRecord[]; total: number }>;
  /** ERR_RUN_NOT_FOUND (→404), ERR_RUN_FINISHED (→409). A queued run is removed, a running one cancelled (-125). */
  cancelRun(id: string): PromiseLike<RunRecord>;
  queueStats(): PromiseLike<QueueStats>;
  listDeadLetters(): PromiseLike<DeadLetter[]>;
  /** Re-enqueues as a new run; ERR_DEAD_LETTER_NOT_FOUND (→404), ERR_DUPLICATE_KEY (→409). */
  retryDeadLetter(id: string): PromiseLike<RunRecord>;
  onChange(listener: (change: OpsChange) => void): () => void;
}
