/**
 * Typed errors. Every error the library raises on purpose names what it was working on (a file,
 * a tensor) and the cause, so that the CLI can print it as one line.
 */
export class PrnetError extends Error {
  /**
   * The class's name, written out in each of the library's classes: a minifying bundler renames
   * the constructors (`err.name` read "$" or "Q" in a production build). A subclass of your own
   * without one is named by its constructor.
   */
  static readonly errorName: string = 'PrnetError';
  /** The file (or other source) the error is about, when there is one. */
  readonly source?: string;
  constructor(message: string, source?: string, options?: { cause?: unknown }) {
    // A name with a newline or other control character must not break the one-line message.
    super(source ? `${escapeControl(source)}: ${message}` : message, options);
    const type = new.target as typeof PrnetError;
    this.name = Object.prototype.hasOwnProperty.call(type, 'errorName') ? type.errorName : type.name;
    this.source = source;
  }
}

/** Bad user input: a missing, unreadable, corrupt or unsupported image; bad arguments. */
export class InputError extends PrnetError {
  static override readonly errorName: string = 'InputError';
}

/**
 * An image in a format this build cannot decode although it is a photo (a HEIC photo: HEVC has no
 * decoder in sharp's prebuilt libvips). The message says how to convert it.
 */
export class UnsupportedImageError extends InputError {
  static override readonly errorName: string = 'UnsupportedImageError';
}

/** A model file that is missing, malformed, or does not fit the network. */
export class ModelError extends PrnetError {
  static override readonly errorName: string = 'ModelError';
}

/** No face was found where one was required. */
export class NoFaceError extends InputError {
  static override readonly errorName: string = 'NoFaceError';
}

/**
 * A pipeline or session used after its dispose (release): the calling program's error, not bad
 * input (a service that maps InputError to a client error would have blamed its client).
 */
export class DisposedError extends PrnetError {
  static override readonly errorName: string = 'DisposedError';
}

/** The caller aborted the work (ReconstructOptions.signal). */
export class AbortedError extends PrnetError {
  static override readonly errorName: string = 'AbortedError';
}

/**
 * Throws an AbortedError (`what` was aborted) when the signal is aborted, its reason (an
 * AbortSignal's abort(reason), or a TimeoutError) as the cause. Anything with an `aborted` flag.
 */
export function throwIfAborted(signal: { readonly aborted: boolean } | undefined, what: string): void {
  if (signal?.aborted) throw new AbortedError(`${what} was aborted`, undefined, { cause: (signal as { reason?: unknown }).reason });
}

/** An output that could not be written (disk full, read-only, a folder where a file goes). */
export class OutputError extends PrnetError {
  static override readonly errorName: string = 'OutputError';
}

/** Control characters (newline, tab, escape, …) written as escapes: `a\nb` → `a\\nb`. */
export function escapeControl(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    const code = c.charCodeAt(0);
    return named[c] ?? (code > 0xff ? `\\u${code.toString(16)}` : `\\x${code.toString(16).padStart(2, '0')}`);
  });
}

/** The first line of an error's message (or of the thrown value as text), trimmed: for one-line reports. */
export function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();
}

/**
 * A value as an option error shows it: a string quoted (so '3' is not read as the number 3), an
 * array or plain object as JSON (cut at 60 characters), anything else as String gives it.
 */
export function shownValue(v: unknown): string {
  if (typeof v === 'string') return escapeControl(JSON.stringify(v));
  if (typeof v === 'bigint') return `${v}n`;
  if (v !== null && typeof v === 'object' && (Array.isArray(v) || Object.getPrototypeOf(v) === Object.prototype)) {
    let s: string;
    try {
      s = JSON.stringify(v);
    } catch {
      s = Array.isArray(v) ? '[array]' : '{object}';
    }
    return escapeControl(s.length > 60 ? `${s.slice(0, 57)}...` : s);
  }
  return escapeControl(String(v));
}
