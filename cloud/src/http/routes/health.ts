/** Liveness, readiness and Prometheus metrics; no authentication (bind to a private address). */
import type { AppContext } from '../../context.js';
import { HttpProblem } from '../problem.js';
import type { Router } from '../router.js';

export function healthRoutes(router: Router, app: AppContext): void {
  router.on('GET', '/healthz', () => ({ status: 200, body: { ok: true } }));
  router.on('GET', '/readyz', async () => {
    if (app.stopping.value)
      throw new HttpProblem(503, 'NOT_READY', 'shutting down', { headers: { 'Retry-After': '5' } });
    try {
      await app.store.countReadings();
    } catch (e) {
      throw new HttpProblem(503, 'NOT_READY', `store unavailable: ${(e as Error).message}`);
    }
    return { status: 200, body: { ready: true } };
  });
  router.on('GET', '/metrics', async () => ({
    status: 200,
    text: await app.metrics.registry.metrics(),
    contentType: app.metrics.registry.contentType,
  }));
}
