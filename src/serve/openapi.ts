/** The service's OpenAPI 3.1 description, served at GET /openapi.json. */
import { MAX_SMOOTH } from '../geometry/smooth.js';
import { FILE_FORMATS } from './task.js';

const error = {
  description: 'An error',
  content: {
    'application/json': {
      schema: { $ref: '#/components/schemas/Error' },
    },
  },
};

/** One query parameter of POST /v1/reconstruct, as OpenAPI writes it. */
export interface QueryParameter {
  name: string;
  in: 'query';
  schema: Record<string, unknown>;
  description?: string;
}

/**
 * The query parameters of POST /v1/reconstruct, defined once: the OpenAPI document lists them and
 * the route validates against `querystringSchema` of the same list (Fastify fills in the defaults).
 */
export function reconstructParameters(models: readonly string[]): QueryParameter[] {
  return [
    { name: 'maxFaces', in: 'query', schema: { type: 'integer', minimum: 1 }, description: 'at most this many faces, largest first (boxes the detector scores under 0.65 after the others)' },
    { name: 'model', in: 'query', schema: { type: 'string', enum: [...models], default: models[0] } },
    { name: 'flip', in: 'query', schema: { type: 'boolean', default: true }, description: 'test-time flip (twice the network cost, more accurate)' },
    { name: 'smooth', in: 'query', schema: { type: 'number', minimum: 0, maximum: MAX_SMOOTH }, description: "smoothing of the position map, σ in UV pixels (default: the model's, 256 / its input side; 0: the raw map)" },
    { name: 'format', in: 'query', schema: { type: 'string', enum: ['json', ...FILE_FORMATS], default: 'json' }, description: "a file for one face instead of the JSON: a mesh (glb, obj, ply), the position map as NumPy .npy (posmap), the OBJ with the head pose undone (frontal), the UV texture's visibility PNG (mask), the mesh as a MATLAB .mat file (mat)" },
    { name: 'face', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 }, description: 'with format: the face (0 = largest)' },
  ];
}

/** The JSON schema of a query string with these parameters and no others. */
export function querystringSchema(parameters: readonly QueryParameter[]): Record<string, unknown> {
  return { type: 'object', additionalProperties: false, properties: Object.fromEntries(parameters.map((p) => [p.name, p.schema])) };
}

export function openApi(options: { models: string[]; version: string }): Record<string, unknown> {
  const point = (n: number) => ({ type: 'array', items: { type: 'number' }, minItems: n, maxItems: n });
  return {
    openapi: '3.1.0',
    info: {
      title: 'prnet serve',
      version: options.version,
      description: 'PRNet 3D face reconstruction and dense alignment over HTTP. Every face object is the one `prnet reconstruct` writes to NAME_face<i>.json.',
    },
    paths: {
      '/v1/reconstruct': {
        post: {
          summary: 'Reconstruct every face of an image',
          parameters: reconstructParameters(options.models),
          requestBody: {
            required: true,
            content: {
              'image/*': { schema: { type: 'string', format: 'binary' } },
              'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
              'multipart/form-data': { schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' } }, required: ['file'] } },
            },
          },
          responses: {
            200: {
              description: 'The faces (an empty list when there is none), or the asked-for file',
              content: {
                'application/json': { schema: { type: 'object', properties: { faces: { type: 'array', items: { $ref: '#/components/schemas/Face' } } }, required: ['faces'] } },
                'model/gltf-binary': { schema: { type: 'string', format: 'binary' } },
                'model/obj': { schema: { type: 'string' } },
                'application/octet-stream': { schema: { type: 'string', format: 'binary' }, description: 'PLY, or the position map (NumPy .npy)' },
                'image/png': { schema: { type: 'string', format: 'binary' }, description: "the UV texture's visibility" },
                'application/x-matlab-data': { schema: { type: 'string', format: 'binary' }, description: 'the MATLAB file (`format=mat`)' },
              },
            },
            400: { ...error, description: 'Bad query parameters (checked before the body is read; `face` without a file `format` included), an option sent as a multipart field, or a multipart body without a `file` field' },
            408: { ...error, description: 'The body arrived too slowly (under the minimum upload rate after 2 s, or unable to arrive before the deadline), or not whole within the deadline' },
            413: { ...error, description: 'Body larger than the limit' },
            415: { ...error, description: 'Not an image (content type or content)' },
            422: { ...error, description: 'Image above the pixel limit (checked from the header, before decoding), corrupt image (a known format whose header or pixels do not decode), or no such face for `format`' },
            503: { ...error, description: 'Queue full (requests waiting or arriving), models loading, or shutting down; retry after the Retry-After header', headers: { 'Retry-After': { schema: { type: 'integer' } } } },
            504: { ...error, description: 'Not answered within the per-request deadline' },
          },
        },
        ...Object.fromEntries(['get', 'head', 'put', 'delete', 'patch', 'options', 'trace'].map((method) => [method, {
          summary: 'Not allowed: POST the image',
          responses: { 405: { ...error, description: 'Method not allowed', headers: { Allow: { schema: { type: 'string', const: 'POST' } } } } },
        }])),
      },
      '/healthz': { get: { summary: 'Alive', responses: { 200: { description: 'The process answers' } } } },
      '/readyz': { get: { summary: 'Models loaded in every worker', responses: { 200: { description: 'Ready' }, 503: error } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'text/plain exposition format' } } } },
      '/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1' } } } },
    },
    components: {
      schemas: {
        Error: {
          type: 'object',
          properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'] } },
          required: ['error'],
        },
        Face: {
          type: 'object',
          description: 'Image pixels (x right, y down), z towards the camera; numbers rounded to 3 decimals',
          properties: {
            index: { type: 'integer' },
            box: { type: 'object', properties: { x: { type: 'number' }, y: { type: 'number' }, width: { type: 'number' }, height: { type: 'number' }, score: { type: 'number' } } },
            crop: { type: 'object', properties: { centerX: { type: 'number' }, centerY: { type: 'number' }, side: { type: 'number' }, scale: { type: 'number' }, angle: { type: 'number', description: 'degrees; the crop turns with a face rolled by 20° or more, so that the network sees it upright' } } },
            landmarks: { type: 'object', properties: { '2d': { type: 'array', items: point(2) }, '3d': { type: 'array', items: point(3) } } },
            pose: { type: 'object' },
            vertexCount: { type: 'integer' },
            triangleCount: { type: 'integer' },
            image: { type: 'object', description: 'the uploaded photo: width and height in pixels', properties: { width: { type: 'integer' }, height: { type: 'integer' } } },
            flipDisagreement: { type: 'number', description: 'with flip: how far the direct and mirrored predictions of the 68 landmarks lie apart, in landmark-box sides (default model on AFLW2000-3D: median 0.03; over ~0.1 usually a failed reconstruction)' },
            keypointDisagreement: { type: 'number', description: 'for a face BlazeFace found whose crop its keypoints turn by at most 45° (not turned by the orientation step; none for given boxes or crops): how far its keypoints (eyes, nose tip, mouth) lie from the reconstruction\'s, in landmark-box sides (default model on AFLW2000-3D: median 0.03; over ~0.12 usually a failed reconstruction)' },
            suspect: { type: 'boolean', description: 'true when flipDisagreement is over 0.1 or keypointDisagreement over 0.12: the reconstruction is likely wrong (on AFLW2000-3D dev, 71 % of the default model\'s suspect faces had a 68-point NME over 10 %); absent when the face has neither signal' },
            inImage: { type: 'number', description: 'the share (0..1) of the face\'s dense vertices inside the photo: below 1 for a face that runs off an edge, whose missing part and pose are guessed' },
          },
        },
      },
    },
  };
}
