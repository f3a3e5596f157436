import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  type MatrixContext,
  runScenario,
  scenarioNamed,
  scenarioTitle,
  setUpMatrix,
  tearDownMatrix,
} from '../faults/matrix-rows.js';

/**
 * The short subset of the fault matrix that runs in `npm test` (CI): its fastest meaningful row, the
 * vault answering 500 InternalError to 8 requests while the MinIO backup is finalized (the SDK and the
 * step retry them; the backup completes, and so does the next one). The whole matrix is opt-in
 * (`npm run test:faults`, `test/faults/`); this file reuses its row definitions. toxiproxy is started
 * from the tool cache (`wire-stack install` builds it) unless one answers on `WIRE_FAULTS_TOXIPROXY_PORT`.
 */
describe('fault matrix, CI subset', () => {
  let ctx: MatrixContext;
  beforeAll(async () => {
    ctx = await setUpMatrix();
  });
  afterAll(async () => {
    await tearDownMatrix(ctx);
  });

  const row = scenarioNamed('vault 500 InternalError ×8');
  it(scenarioTitle(row), async () => {
    await runScenario(ctx, row, (r) =>
      console.log(`fault matrix row: | ${r.fault} | ${r.phase} | ${r.outcome} | ${r.next} |`),
    );
  });
});
