/** The page's side of the inference worker: one request at a time, answered in order. */
import { rgbaToRgbBytes } from '../../src/io/pixels.js';
import type { ExportRequest, FilesReply, FrameRequest, InitRequest, ReadyReply, RecordRequest, ResultReply, WorkerReply, WorkerRequest } from './protocol.js';

export class Engine {
  private readonly worker: Worker;
  private readonly pending: { resolve(r: WorkerReply): void; reject(e: Error): void }[] = [];

  constructor() {
    this.worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'prnet' });
    this.worker.onmessage = (e: MessageEvent<WorkerReply>) => {
      const p = this.pending.shift();
      if (!p) return;
      if (e.data.type === 'error') p.reject(new Error(e.data.message));
      else p.resolve(e.data);
    };
    this.worker.onerror = (e) => {
      const err = new Error(e.message || 'the worker failed');
      for (const p of this.pending.splice(0)) p.reject(err);
    };
  }

  private request<T extends WorkerReply>(req: WorkerRequest, transfer: Transferable[] = []): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ resolve: resolve as (r: WorkerReply) => void, reject });
      this.worker.postMessage(req, transfer);
    });
  }

  init(req: Omit<InitRequest, 'type'>): Promise<ReadyReply> {
    return this.request<ReadyReply>({ type: 'init', ...req });
  }

  /** Sends one frame (as RGB bytes, transferred). */
  frame(pixels: ImageData, options: Omit<FrameRequest, 'type' | 'rgb' | 'width' | 'height'>): Promise<ResultReply> {
    const rgb = rgbaToRgbBytes(pixels.data, pixels.width * pixels.height).buffer as ArrayBuffer;
    return this.request<ResultReply>({ type: 'frame', rgb, width: pixels.width, height: pixels.height, ...options }, [rgb]);
  }

  exportFiles(kind: ExportRequest['kind'], stem: string, seq?: number): Promise<FilesReply> {
    return this.request<FilesReply>({ type: 'export', kind, stem, seq });
  }

  /** Starts, stops (the GLB, if a face was kept) or cancels recording the face's motion (RecordRequest). */
  record(action: RecordRequest['action'], stem?: string): Promise<FilesReply> {
    return this.request<FilesReply>({ type: 'record', action, stem });
  }

  reset(): Promise<FilesReply> {
    return this.request<FilesReply>({ type: 'reset' });
  }

  terminate(): void {
    this.worker.terminate();
    const err = new Error('the worker was stopped');
    for (const p of this.pending.splice(0)) p.reject(err);
  }
}
