/** Live numbers: frames per second, milliseconds per stage (smoothed), and each face's pose. */
import type { FaceMessage, FrameTimings } from './protocol.js';

const STAGES = ['detect', 'crop', 'network', 'readoff', 'stabilize', 'total', 'display'] as const;
export type Stage = (typeof STAGES)[number];

export class Stats {
  private readonly ms = new Map<Stage, number>();
  private times: number[] = [];
  frames = 0;
  fps = 0;

  /** Records one processed frame (its timings, and the page's display time). */
  record(timings: FrameTimings, displayMs: number, at = performance.now()): void {
    this.frames++;
    this.times.push(at);
    while (this.times.length > 2 && at - this.times[0] > 2000) this.times.shift();
    if (this.times.length >= 2) this.fps = ((this.times.length - 1) * 1000) / (at - this.times[0]);
    const all: Record<Stage, number> = { ...timings, display: displayMs };
    for (const s of STAGES) {
      const prev = this.ms.get(s);
      // Detection runs on some frames only: average what it costs when it runs.
      if (s === 'detect' && all.detect === 0 && prev !== undefined) continue;
      this.ms.set(s, prev === undefined ? all[s] : prev + 0.2 * (all[s] - prev));
    }
  }

  reset(): void {
    this.ms.clear();
    this.times = [];
    this.frames = 0;
    this.fps = 0;
  }

  render(fpsEl: HTMLElement, stagesEl: HTMLElement, posesEl: HTMLElement, faces: readonly FaceMessage[]): void {
    fpsEl.textContent = this.fps > 0 ? this.fps.toFixed(1) : '–';
    stagesEl.replaceChildren(
      ...STAGES.filter((s) => this.ms.has(s)).map((s) => row(s, `${(this.ms.get(s) ?? 0).toFixed(1)} ms`)),
    );
    posesEl.replaceChildren(
      ...faces.map((f, i) =>
        row(`face ${i + 1}`, `yaw ${f.yaw.toFixed(1)}° · pitch ${f.pitch.toFixed(1)}° · roll ${f.roll.toFixed(1)}°${f.still ? ' · still' : ''}`),
      ),
    );
  }
}

function row(label: string, value: string): HTMLElement {
  const tr = document.createElement('tr');
  const th = document.createElement('th');
  th.textContent = label;
  const td = document.createElement('td');
  td.textContent = value;
  tr.append(th, td);
  return tr;
}
