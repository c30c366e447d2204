/** The CLI's two-step stop on SIGINT / SIGTERM (src/cli/signals.ts); the second signal's exit is tested through `prnet video` (test/video.test.ts). */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { signalExitCode, stopOnSignals } from '../src/cli/signals.js';

describe('stopOnSignals', () => {
  afterEach(() => vi.restoreAllMocks());

  it('the first signal says its line and aborts; dispose gives the signals back', () => {
    const said: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      said.push(String(chunk));
      return true;
    });
    const before = { int: process.listenerCount('SIGINT'), term: process.listenerCount('SIGTERM') };
    const stop = stopOnSignals({ first: (s) => `prnet: ${s}: stopping` });
    expect(process.listenerCount('SIGINT')).toBe(before.int + 1);
    expect(stop.signal.aborted).toBe(false);
    expect(stop.received).toBeNull();
    process.emit('SIGTERM', 'SIGTERM');
    expect(stop.signal.aborted).toBe(true);
    expect(stop.received).toBe('SIGTERM');
    expect(said.join('')).toBe('\nprnet: SIGTERM: stopping\n');
    stop.dispose();
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual([before.int, before.term]);
  });

  it('exit statuses: 130 for SIGINT, 143 for SIGTERM', () => {
    expect(signalExitCode('SIGINT')).toBe(130);
    expect(signalExitCode('SIGTERM')).toBe(143);
  });
});
