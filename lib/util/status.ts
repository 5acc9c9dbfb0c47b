// Task status codes: one signed integer in -999…999 tells where a task is and, once it has
// failed, why. The band table below is the contract (docs/status.md); everything else here is
// derived from it, so a band changes in one place only.
import { codedError, invalidArgType } from './validate';

export type StatusCategory =
  | 'unhandled'
  | 'retryRequired'
  | 'retryOptional'
  | 'retryLater'
  | 'reserved'
  | 'notRepeatable'
  | 'http'
  | 'errno'
  | 'success'
  | 'init'
  | 'inProcess'
  | 'callback';

export interface StatusBand {
  readonly min: number;
  readonly max: number;
  readonly category: StatusCategory;
  readonly description: string;
}

/** The bands, in ascending order, with no gaps or overlaps from -999 to 999. */
export const STATUS_BANDS: readonly StatusBand[] = Object.freeze([
  { min: -999, max: -999, category: 'unhandled', description: 'unhandled error' },
  { min: -998, max: -990, category: 'retryRequired', description: 'retry required' },
  { min: -989, max: -980, category: 'retryOptional', description: 'retry optional' },
  { min: -979, max: -970, category: 'retryLater', description: 'retry later' },
  { min: -969, max: -951, category: 'reserved', description: 'reserved' },
  { min: -950, max: -900, category: 'notRepeatable', description: 'not repeatable' },
  { min: -899, max: -601, category: 'reserved', description: 'reserved' },
  { min: -600, max: -200, category: 'http', description: 'HTTP status (code = -status)' },
  { min: -199, max: -1, category: 'errno', description: 'errno (code = -errno, Linux numbering)' },
  { min: 0, max: 0, category: 'success', description: 'success' },
  { min: 1, max: 99, category: 'init', description: 'init' },
  { min: 100, max: 799, category: 'inProcess', description: 'in process' },
  { min: 800, max: 899, category: 'callback', description: 'callback' },
  { min: 900, max: 999, category: 'reserved', description: 'reserved' },
].map((band) => Object.freeze(band as StatusBand)));

export const STATUS_MIN = -999;
export const STATUS_MAX = 999;

/** Named codes. Errno-based ones use Linux numbers on every platform. */
export const Status = Object.freeze({
  SUCCESS: 0,
  INIT: 1,
  IN_PROCESS: 100,
  CALLBACK: 800,
  UNHANDLED: -999,
  RETRY_REQUIRED: -990,
  RETRY_OPTIONAL: -980,
  RETRY_LATER: -970,
  NOT_REPEATABLE: -900,
  CANCELLED: -125, // -ECANCELED
  TIMED_OUT: -110, // -ETIMEDOUT
  CONNECTION_REFUSED: -111, // -ECONNREFUSED
  CONNECTION_RESET: -104, // -ECONNRESET
  CONNECTION_ABORTED: -103, // -ECONNABORTED
  HOST_UNREACHABLE: -113, // -EHOSTUNREACH
  NETWORK_UNREACHABLE: -101, // -ENETUNREACH
  ADDRESS_IN_USE: -98, // -EADDRINUSE
  ADDRESS_NOT_AVAILABLE: -99, // -EADDRNOTAVAIL
  NOT_CONNECTED: -107, // -ENOTCONN
  BROKEN_PIPE: -32, // -EPIPE
  PERMISSION_DENIED: -13, // -EACCES
  NO_SUCH_FILE: -2, // -ENOENT
  INVALID_ARGUMENT: -22, // -EINVAL
  TOO_MANY_OPEN_FILES: -24, // -EMFILE
  OUT_OF_MEMORY: -12, // -ENOMEM
  TRY_AGAIN: -11, // -EAGAIN
  INTERRUPTED: -4, // -EINTR
} as const);

export type StatusName = keyof typeof Status;

// Linux asm-generic errno-base.h (1…34) and errno.h (35…133). The numbers are Linux's on every
// platform, so that a status code means the same thing wherever it was produced or logged.
const ERRNO_TABLE: ReadonlyArray<readonly [number, string, string]> = [
  [1, 'EPERM', 'Operation not permitted'],
  [2, 'ENOENT', 'No such file or directory'],
  [3, 'ESRCH', 'No such process'],
  [4, 'EINTR', 'Interrupted system call'],
  [5, 'EIO', 'I/O error'],
  [6, 'ENXIO', 'No such device or address'],
  [7, 'E2BIG', 'Argument list too long'],
  [8, 'ENOEXEC', 'Exec format error'],
  [9, 'EBADF', 'Bad file number'],
  [10, 'ECHILD', 'No child processes'],
  [11, 'EAGAIN', 'Try again'],
  [12, 'ENOMEM', 'Out of memory'],
  [13, 'EACCES', 'Permission denied'],
  [14, 'EFAULT', 'Bad address'],
  [15, 'ENOTBLK', 'Block device required'],
  [16, 'EBUSY', 'Device or resource busy'],
  [17, 'EEXIST', 'File exists'],
  [18, 'EXDEV', 'Cross-device link'],
  [19, 'ENODEV', 'No such device'],
  [20, 'ENOTDIR', 'Not a directory'],
  [21, 'EISDIR', 'Is a directory'],
  [22, 'EINVAL', 'Invalid argument'],
  [23, 'ENFILE', 'File table overflow'],
  [24, 'EMFILE', 'Too many open files'],
  [25, 'ENOTTY', 'Not a typewriter'],
  [26, 'ETXTBSY', 'Text file busy'],
  [27, 'EFBIG', 'File too large'],
  [28, 'ENOSPC', 'No space left on device'],
  [29, 'ESPIPE', 'Illegal seek'],
  [30, 'EROFS', 'Read-only file system'],
  [31, 'EMLINK', 'Too many links'],
  [32, 'EPIPE', 'Broken pipe'],
  [33, 'EDOM', 'Math argument out of domain of func'],
  [34, 'ERANGE', 'Math result not representable'],
  [35, 'EDEADLK', 'Resource deadlock would occur'],
  [36, 'ENAMETOOLONG', 'File name too long'],
  [37, 'ENOLCK', 'No record locks available'],
  [38, 'ENOSYS', 'Invalid system call number'],
  [39, 'ENOTEMPTY', 'Directory not empty'],
  [40, 'ELOOP', 'Too many symbolic links encountered'],
  [42, 'ENOMSG', 'No message of desired type'],
  [43, 'EIDRM', 'Identifier removed'],
  [44, 'ECHRNG', 'Channel number out of range'],
  [45, 'EL2NSYNC', 'Level 2 not synchronized'],
  [46, 'EL3HLT', 'Level 3 halted'],
  [47, 'EL3RST', 'Level 3 reset'],
  [48, 'ELNRNG', 'Link number out of range'],
  [49, 'EUNATCH', 'Protocol driver not attached'],
  [50, 'ENOCSI', 'No CSI structure available'],
  [51, 'EL2HLT', 'Level 2 halted'],
  [52, 'EBADE', 'Invalid exchange'],
  [53, 'EBADR', 'Invalid request descriptor'],
  [54, 'EXFULL', 'Exchange full'],
  [55, 'ENOANO', 'No anode'],
  [56, 'EBADRQC', 'Invalid request code'],
  [57, 'EBADSLT', 'Invalid slot'],
  [59, 'EBFONT', 'Bad font file format'],
  [60, 'ENOSTR', 'Device not a stream'],
  [61, 'ENODATA', 'No data available'],
  [62, 'ETIME', 'Timer expired'],
  [63, 'ENOSR', 'Out of streams resources'],
  [64, 'ENONET', 'Machine is not on the network'],
  [65, 'ENOPKG', 'Package not installed'],
  [66, 'EREMOTE', 'Object is remote'],
  [67, 'ENOLINK', 'Link has been severed'],
  [68, 'EADV', 'Advertise error'],
  [69, 'ESRMNT', 'Srmount error'],
  [70, 'ECOMM', 'Communication error on send'],
  [71, 'EPROTO', 'Protocol error'],
  [72, 'EMULTIHOP', 'Multihop attempted'],
  [73, 'EDOTDOT', 'RFS specific error'],
  [74, 'EBADMSG', 'Not a data message'],
  [75, 'EOVERFLOW', 'Value too large for defined data type'],
  [76, 'ENOTUNIQ', 'Name not unique on network'],
  [77, 'EBADFD', 'File descriptor in bad state'],
  [78, 'EREMCHG', 'Remote address changed'],
  [79, 'ELIBACC', 'Can not access a needed shared library'],
  [80, 'ELIBBAD', 'Accessing a corrupted shared library'],
  [81, 'ELIBSCN', '.lib section in a.out corrupted'],
  [82, 'ELIBMAX', 'Attempting to link in too many shared libraries'],
  [83, 'ELIBEXEC', 'Cannot exec a shared library directly'],
  [84, 'EILSEQ', 'Illegal byte sequence'],
  [85, 'ERESTART', 'Interrupted system call should be restarted'],
  [86, 'ESTRPIPE', 'Streams pipe error'],
  [87, 'EUSERS', 'Too many users'],
  [88, 'ENOTSOCK', 'Socket operation on non-socket'],
  [89, 'EDESTADDRREQ', 'Destination address required'],
  [90, 'EMSGSIZE', 'Message too long'],
  [91, 'EPROTOTYPE', 'Protocol wrong type for socket'],
  [92, 'ENOPROTOOPT', 'Protocol not available'],
  [93, 'EPROTONOSUPPORT', 'Protocol not supported'],
  [94, 'ESOCKTNOSUPPORT', 'Socket type not supported'],
  [95, 'EOPNOTSUPP', 'Operation not supported on transport endpoint'],
  [96, 'EPFNOSUPPORT', 'Protocol family not supported'],
  [97, 'EAFNOSUPPORT', 'Address family not supported by protocol'],
  [98, 'EADDRINUSE', 'Address already in use'],
  [99, 'EADDRNOTAVAIL', 'Cannot assign requested address'],
  [100, 'ENETDOWN', 'Network is down'],
  [101, 'ENETUNREACH', 'Network is unreachable'],
  [102, 'ENETRESET', 'Network dropped connection because of reset'],
  [103, 'ECONNABORTED', 'Software caused connection abort'],
  [104, 'ECONNRESET', 'Connection reset by peer'],
  [105, 'ENOBUFS', 'No buffer space available'],
  [106, 'EISCONN', 'Transport endpoint is already connected'],
  [107, 'ENOTCONN', 'Transport endpoint is not connected'],
  [108, 'ESHUTDOWN', 'Cannot send after transport endpoint shutdown'],
  [109, 'ETOOMANYREFS', 'Too many references: cannot splice'],
  [110, 'ETIMEDOUT', 'Connection timed out'],
  [111, 'ECONNREFUSED', 'Connection refused'],
  [112, 'EHOSTDOWN', 'Host is down'],
  [113, 'EHOSTUNREACH', 'No route to host'],
  [114, 'EALREADY', 'Operation already in progress'],
  [115, 'EINPROGRESS', 'Operation now in progress'],
  [116, 'ESTALE', 'Stale file handle'],
  [117, 'EUCLEAN', 'Structure needs cleaning'],
  [118, 'ENOTNAM', 'Not a XENIX named type file'],
  [119, 'ENAVAIL', 'No XENIX semaphores available'],
  [120, 'EISNAM', 'Is a named type file'],
  [121, 'EREMOTEIO', 'Remote I/O error'],
  [122, 'EDQUOT', 'Quota exceeded'],
  [123, 'ENOMEDIUM', 'No medium found'],
  [124, 'EMEDIUMTYPE', 'Wrong medium type'],
  [125, 'ECANCELED', 'Operation Canceled'],
  [126, 'ENOKEY', 'Required key not available'],
  [127, 'EKEYEXPIRED', 'Key has expired'],
  [128, 'EKEYREVOKED', 'Key has been revoked'],
  [129, 'EKEYREJECTED', 'Key was rejected by service'],
  [130, 'EOWNERDEAD', 'Owner died'],
  [131, 'ENOTRECOVERABLE', 'State not recoverable'],
  [132, 'ERFKILL', 'Operation not possible due to RF-kill'],
  [133, 'EHWPOISON', 'Memory page has hardware error'],
];

// Aliases Linux defines to the same number; a Node error may carry either spelling.
const ERRNO_ALIASES: ReadonlyArray<readonly [string, number]> = [
  ['EWOULDBLOCK', 11],
  ['EDEADLOCK', 35],
  ['ENOTSUP', 95],
];

const errnoByName = new Map<string, number>();
const errnoByNumber = new Map<number, { name: string; description: string }>();
for (const [n, name, description] of ERRNO_TABLE) {
  errnoByName.set(name, n);
  errnoByNumber.set(n, { name, description });
}
for (const [name, n] of ERRNO_ALIASES) errnoByName.set(name, n);

/** Linux errno numbers by name (aliases included), read-only. */
export const ERRNO: Readonly<Record<string, number>> = Object.freeze(Object.fromEntries(errnoByName));

const HTTP_REASONS: Readonly<Record<number, string>> = Object.freeze({
  200: 'OK', 201: 'Created', 202: 'Accepted', 203: 'Non-Authoritative Information', 204: 'No Content',
  205: 'Reset Content', 206: 'Partial Content', 207: 'Multi-Status', 208: 'Already Reported', 226: 'IM Used',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified',
  305: 'Use Proxy', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required',
  408: 'Request Timeout', 409: 'Conflict', 410: 'Gone', 411: 'Length Required', 412: 'Precondition Failed',
  413: 'Content Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable',
  417: 'Expectation Failed', 418: "I'm a Teapot", 421: 'Misdirected Request', 422: 'Unprocessable Content',
  423: 'Locked', 424: 'Failed Dependency', 425: 'Too Early', 426: 'Upgrade Required',
  428: 'Precondition Required', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large',
  451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Gateway Timeout', 505: 'HTTP Version Not Supported', 506: 'Variant Also Negotiates',
  507: 'Insufficient Storage', 508: 'Loop Detected', 510: 'Not Extended',
  511: 'Network Authentication Required',
});

// The code each named band is known by; other codes in the band show their number.
const BAND_BASE_CODES: ReadonlySet<number> = new Set([
  Status.UNHANDLED, Status.RETRY_REQUIRED, Status.RETRY_OPTIONAL, Status.RETRY_LATER, Status.NOT_REPEATABLE,
  Status.INIT, Status.IN_PROCESS, Status.CALLBACK,
]);

// A direct index beats scanning the bands: statusCategory sits on the task hot path.
const bandIndex = new Uint8Array(STATUS_MAX - STATUS_MIN + 1);
STATUS_BANDS.forEach((band, i) => {
  for (let code = band.min; code <= band.max; code++) bandIndex[code - STATUS_MIN] = i;
});

function checkCode(code: unknown, fn: string): number {
  if (typeof code !== 'number') {
    throw invalidArgType(`${fn}(code)`, 'of type number', code);
  }
  if (!Number.isInteger(code)) {
    throw codedError(RangeError, 'ERR_OUT_OF_RANGE', `${fn}: the status code must be an integer, got ${code}`);
  }
  if (code < STATUS_MIN || code > STATUS_MAX) {
    throw codedError(RangeError, 'ERR_OUT_OF_RANGE', `${fn}: status code ${code} is outside ${STATUS_MIN}…${STATUS_MAX}`);
  }
  return code;
}

/** The band a code falls in. Throws RangeError outside -999…999 or for a non-integer. */
export function statusBand(code: number): StatusBand {
  return STATUS_BANDS[bandIndex[checkCode(code, 'statusBand') - STATUS_MIN]!]!;
}

/** The category name of a code (`'errno'`, `'http'`, `'retryLater'`, …). */
export function statusCategory(code: number): StatusCategory {
  return STATUS_BANDS[bandIndex[checkCode(code, 'statusCategory') - STATUS_MIN]!]!.category;
}

/** A human-readable text for a code: errno name and description, HTTP reason, or the band. */
export function statusMessage(code: number): string {
  const band = STATUS_BANDS[bandIndex[checkCode(code, 'statusMessage') - STATUS_MIN]!]!;
  switch (band.category) {
    case 'errno': {
      const e = errnoByNumber.get(-code);
      return e ? `${e.name}: ${e.description}` : `errno ${-code}`;
    }
    case 'http': {
      const reason = HTTP_REASONS[-code];
      return reason ? `HTTP ${-code} ${reason}` : `HTTP ${-code}`;
    }
    case 'success':
      return 'success';
    case 'reserved':
      return `reserved (${code})`;
    default:
      return BAND_BASE_CODES.has(code) ? band.description : `${band.description} (${code})`;
  }
}

/**
 * The status code for an errno, by name (`'ECONNREFUSED'`, Linux aliases such as `'EWOULDBLOCK'`
 * accepted) or by Linux number (`111`; `-111` is taken as already negated). Returns `-errno`.
 */
export function fromErrno(nameOrNumber: string | number): number {
  if (typeof nameOrNumber === 'string') {
    const n = errnoByName.get(nameOrNumber);
    if (n === undefined) {
      throw codedError(RangeError, 'ERR_UNKNOWN_ERRNO', `fromErrno: unknown errno name ${JSON.stringify(nameOrNumber)}`);
    }
    return -n;
  }
  if (typeof nameOrNumber === 'number') {
    const n = Math.abs(nameOrNumber);
    if (!Number.isInteger(n) || n < 1 || n > 199) {
      throw codedError(RangeError, 'ERR_OUT_OF_RANGE', `fromErrno: errno number must be an integer in 1…199, got ${nameOrNumber}`);
    }
    return -n;
  }
  throw invalidArgType('nameOrNumber', 'an errno name or number', nameOrNumber);
}

/** The errno name for a Linux errno number (positive or negated), or undefined. */
export function errnoName(n: number): string | undefined {
  return errnoByNumber.get(Math.abs(n))?.name;
}

/** The status code for an HTTP status 200…599 (`-status`); RangeError otherwise. */
export function fromHttpStatus(n: number): number {
  if (typeof n !== 'number') {
    throw invalidArgType('n', 'of type number', n);
  }
  if (!Number.isInteger(n) || n < 200 || n > 599) {
    throw codedError(RangeError, 'ERR_OUT_OF_RANGE', `fromHttpStatus: HTTP status must be an integer in 200…599, got ${n}`);
  }
  return -n;
}

/** True for the three retry bands (-998…-970) only. */
export function isRetryable(code: number): boolean {
  const category = statusCategory(code);
  return category === 'retryRequired' || category === 'retryOptional' || category === 'retryLater';
}

/**
 * The status a failed task gets from what it threw: a negative in-range integer `err.status`
 * wins; then an errno `err.code` (`'ECONNREFUSED'` → -111); then cancellation (-125) and
 * time-out (-110), recognised by the error's name so this module needs no import of them;
 * anything else is -999.
 */
export function statusOfError(err: unknown): number {
  if (err !== null && (typeof err === 'object' || typeof err === 'function')) {
    const e = err as { status?: unknown; code?: unknown; name?: unknown };
    const status = e.status;
    // 0 and positive codes describe live or successful tasks: an error cannot claim them.
    if (typeof status === 'number' && Number.isInteger(status) && status >= STATUS_MIN && status < 0) return status;
    if (typeof e.code === 'string') {
      const n = errnoByName.get(e.code);
      if (n !== undefined) return -n;
    }
    switch (e.name) {
      case 'CancelledError':
      case 'AbortError':
        return Status.CANCELLED;
      case 'TimeoutError':
        return Status.TIMED_OUT;
    }
  }
  return Status.UNHANDLED;
}

// Errors that carry their status, so a task that throws them ends with the intended code.

export interface StatusErrorOptions {
  cause?: unknown;
  /** A code inside the error's band (e.g. -995 for a RetryRequiredError); defaults to its base. */
  status?: number;
}

abstract class BandedError extends Error {
  readonly status: number;
  abstract readonly code: string;
  protected constructor(message: string, base: number, category: StatusCategory, options?: StatusErrorOptions) {
    super(message, options && 'cause' in options ? { cause: options.cause } : undefined);
    let status = base;
    if (options?.status !== undefined) {
      if (statusCategory(options.status) !== category) {
        throw codedError(RangeError, 'ERR_OUT_OF_RANGE', `status ${options.status} is not in the ${category} band`);
      }
      status = options.status;
    }
    this.status = status;
  }
}

export class RetryRequiredError extends BandedError {
  override readonly name = 'RetryRequiredError';
  readonly code = 'ERR_RETRY_REQUIRED';
  constructor(message = 'retry required', options?: StatusErrorOptions) {
    super(message, Status.RETRY_REQUIRED, 'retryRequired', options);
  }
}

export class RetryOptionalError extends BandedError {
  override readonly name = 'RetryOptionalError';
  readonly code = 'ERR_RETRY_OPTIONAL';
  constructor(message = 'retry optional', options?: StatusErrorOptions) {
    super(message, Status.RETRY_OPTIONAL, 'retryOptional', options);
  }
}

export class RetryLaterError extends BandedError {
  override readonly name = 'RetryLaterError';
  readonly code = 'ERR_RETRY_LATER';
  constructor(message = 'retry later', options?: StatusErrorOptions) {
    super(message, Status.RETRY_LATER, 'retryLater', options);
  }
}

export class NotRepeatableError extends BandedError {
  override readonly name = 'NotRepeatableError';
  readonly code = 'ERR_NOT_REPEATABLE';
  constructor(message = 'not repeatable', options?: StatusErrorOptions) {
    super(message, Status.NOT_REPEATABLE, 'notRepeatable', options);
  }
}

export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly code = 'ERR_HTTP_STATUS';
  readonly statusCode: number;
  readonly status: number;
  constructor(statusCode: number, message?: string, options?: { cause?: unknown }) {
    const status = fromHttpStatus(statusCode);
    super(message ?? statusMessage(status), options);
    this.statusCode = statusCode;
    this.status = status;
  }
}

