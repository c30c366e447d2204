/**
 * The stage-profile page (web/profile.html): runs web/src/profile-worker.ts, where the app's
 * pipeline runs, and exposes `window.profileFrame(request)` for web/scripts/profile-browser.ts.
 */
import type { ProfileReply, ProfileRequest } from './profile-worker.js';

const out = document.getElementById('out') as HTMLElement;
const worker = new Worker(new URL('./profile-worker.ts', import.meta.url), { type: 'module', name: 'profile' });

function profileFrame(req: ProfileRequest): Promise<ProfileReply> {
  out.textContent = 'Running…';
  return new Promise((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<ProfileReply | { error: string }>) => {
      if ('error' in e.data) reject(new Error(e.data.error));
      else resolve(e.data);
      out.textContent = 'Done';
    };
    worker.postMessage(req, [req.rgb]);
  });
}
(window as unknown as { profileFrame: typeof profileFrame }).profileFrame = profileFrame;
out.textContent = 'Ready';
