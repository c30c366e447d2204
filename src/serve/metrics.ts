/** The service's Prometheus metrics (prom-client), in a registry of their own. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ServeMetrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  latency: Histogram<'route'>;
  inFlight: Gauge;
  queueDepth: Gauge;
  faces: Counter;
}

export function createMetrics(queueSize: () => number): ServeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'prnet_' });
  return {
    registry,
    requests: new Counter({ name: 'prnet_http_requests_total', help: 'HTTP requests answered, by route and status', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    latency: new Histogram({
      name: 'prnet_http_request_duration_seconds',
      help: 'Time from request to response',
      labelNames: ['route'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    inFlight: new Gauge({ name: 'prnet_http_requests_in_flight', help: 'Requests being answered', registers: [registry] }),
    queueDepth: new Gauge({
      name: 'prnet_queue_depth',
      help: 'Reconstructions waiting for an inference worker',
      registers: [registry],
      collect() {
        this.set(queueSize());
      },
    }),
    faces: new Counter({ name: 'prnet_faces_total', help: 'Faces reconstructed', registers: [registry] }),
  };
}
