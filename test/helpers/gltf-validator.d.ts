/** Types for the parts of the Khronos glTF validator (npm gltf-validator) the tests use. */
declare module 'gltf-validator' {
  export interface ValidationMessage {
    code: string;
    message: string;
    severity: number;
    pointer?: string;
  }
  export interface ValidationReport {
    issues: { numErrors: number; numWarnings: number; numInfos: number; numHints: number; messages: ValidationMessage[] };
    info?: Record<string, unknown>;
  }
  export function validateBytes(data: Uint8Array, options?: Record<string, unknown>): Promise<ValidationReport>;
  export function version(): string;
  const validator: { validateBytes: typeof validateBytes; version: typeof version };
  export default validator;
}
