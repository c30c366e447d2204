/**
 * How the CLI's commands end on SIGINT and SIGTERM: by the signal (the shell sees 130 / 143), and
 * for the long commands (`prnet eval`, `prnet video`) in two steps: the first signal asks the work
 * under way to stop and says so, a second ends the process at once.
 */
import { EXIT } from './options.js';

/** The exit status a run ended by `signal` reports where the signal itself cannot end it: 130 for SIGINT, 143 for SIGTERM. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? EXIT.sigint : EXIT.sigterm;
}

/**
 * Ends the process by the signal it received, as POSIX asks of an interrupted program: the shell
 * sees 128 + the signal (130 for SIGINT, 143 for SIGTERM) and a script running it stops too. A
 * plain process.exit waited at exit for native work still running (a large image's decode in
 * libvips: up to 7 s after a SIGTERM). Where the signal is ignored (nohup), exits with `code`.
 */
export function exitBySignal(signal: NodeJS.Signals, code = signalExitCode(signal)): never {
  process.removeAllListeners(signal);
  try {
    process.kill(process.pid, signal);
  } catch {
    // fall through to the ordinary exit
  }
  process.exit(code);
}

/** A two-step stop (see `stopOnSignals`). */
export interface SignalStop {
  /** Aborted at the first signal. */
  readonly signal: AbortSignal;
  /** The first signal received, null while none was. */
  readonly received: NodeJS.Signals | null;
  /** Stops handling the signals (Node's default again). */
  dispose(): void;
}

/**
 * Handles SIGINT and SIGTERM until `dispose()`: the first writes `first(signal)` on stderr (a line
 * of its own) and aborts `signal`; a second writes `again(signal)`, where given, and ends the
 * process by that signal at once.
 */
export function stopOnSignals(say: { first: (s: NodeJS.Signals) => string; again?: (s: NodeJS.Signals) => string }): SignalStop {
  const abort = new AbortController();
  let received: NodeJS.Signals | null = null;
  const handler = (s: NodeJS.Signals): void => {
    if (received) {
      if (say.again) process.stderr.write(`\n${say.again(s)}\n`);
      exitBySignal(s);
    }
    received = s;
    process.stderr.write(`\n${say.first(s)}\n`);
    abort.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: abort.signal,
    get received() {
      return received;
    },
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
