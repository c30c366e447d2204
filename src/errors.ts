/**
 * Typed errors. Every error the library raises on purpose names what it was working on (a file,
 * a tensor) and the cause, so that the CLI can print it as one line.
 */
export class PrnetError extends Error {
  /** The file (or other source) the error is about, when there is one. */
  readonly source?: string;
  constructor(message: string, source?: string, options?: { cause?: unknown }) {
    super(source ? `${source}: ${message}` : message, options);
    this.name = new.target.name;
    this.source = source;
  }
}

/** Bad user input: a missing, unreadable, corrupt or unsupported image; bad arguments. */
export class InputError extends PrnetError {}

/** A model file that is missing, malformed, or does not fit the network. */
export class ModelError extends PrnetError {}

/** No face was found where one was required. */
export class NoFaceError extends InputError {}
