import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreAndCompare } from '../../local/faults/restore-compare.js';
import {
  budgetSeconds,
  type MatrixContext,
  type Row,
  runScenario,
  scenarios,
  scenarioTitle,
  setUpMatrix,
  tearDownMatrix,
} from './matrix-rows.js';

/**
 * The fault matrix (`npm run test:faults`): each fault is injected once in a phase of a backup run
 * through the fault harness (`local/faults/`), then a clean backup runs; the row records the outcome
 * of both. At the end the last backup is restored into fresh instances and compared with the seeded
 * data (0 differences: nothing was lost). The table is printed and written to
 * `<stackDir>/fault-matrix.md`. The rows and how one runs: `matrix-rows.ts`.
 */

describe('fault matrix', () => {
  let ctx: MatrixContext;
  const rows: Row[] = [];
  let lastComplete = '';

  beforeAll(async () => {
    ctx = await setUpMatrix();
  });
  afterAll(async () => {
    await tearDownMatrix(ctx);
    const table = [
      '| fault | phase | outcome | next run |',
      '| --- | --- | --- | --- |',
      ...rows.map((r) => `| ${r.fault} | ${r.phase} | ${r.outcome} | ${r.next} |`),
    ].join('\n');
    console.log(`\nfault matrix (outage budget ${budgetSeconds} s):\n${table}\n`);
    if (ctx) writeFileSync(join(ctx.direct.stackDir, 'fault-matrix.md'), `${table}\n`);
  });

  for (const scenario of scenarios) {
    it(scenarioTitle(scenario), async () => {
      await runScenario(ctx, scenario, (row, completed) => {
        rows.push(row);
        if (completed) lastComplete = completed;
      });
    });
  }
  it('restores the last backup into fresh instances with 0 differences', async () => {
    expect(lastComplete).not.toBe('');
    const { differences, restoreSeconds } = await restoreAndCompare(lastComplete, ctx.before);
    rows.push({
      fault: '(drill)',
      phase: `restore of ${lastComplete}`,
      outcome: `${differences.length} differences`,
      next: `restore took ${Math.round(restoreSeconds)} s`,
    });
    expect(differences).toEqual([]);
  });
});
