/** human's ESM build, aliased in vite.config.ts (its types are loose; human-web.ts names what is used). */
declare module 'human-esm' {
  export const Human: unknown;
}
