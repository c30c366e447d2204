/**
 * The web app (web/index.html) and the library example (web/example.html).
 *   npm run web        dev server (prints its URL), cross-origin isolated
 *   npm run build:web  static files in web/dist (serve them with the headers of docs/web.md)
 */
import { resolve } from 'node:path';
import { defineConfig } from 'vite';
import { ISOLATION_HEADERS, prnetAssets } from './vite-assets.js';

const web = import.meta.dirname;

export default defineConfig({
  root: web,
  base: './',
  publicDir: false,
  server: { headers: ISOLATION_HEADERS, fs: { allow: [resolve(web, '..')] } },
  preview: { headers: ISOLATION_HEADERS },
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: {
    outDir: resolve(web, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    rolldownOptions: {
      input: { index: resolve(web, 'index.html'), example: resolve(web, 'example.html'), profile: resolve(web, 'profile.html') },
    },
  },
  plugins: [prnetAssets()],
});
