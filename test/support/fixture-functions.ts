import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { WireFunction } from '../../lib/constructs/wire-function.js';
import { projectRoot } from '../../lib/paths.js';
import { synthesizeCloudAssembly } from '../../local/runner/cloud-assembly.js';
import { extractTemplate, type FunctionCode } from '../../local/runner/extract.js';

/** The fixture handler modules under `test/fixtures/runner/` (without `.ts`). */
export type FixtureModule = 'echo' | 'flaky' | 'slow' | 'batch' | 'hog';

const fixtureModules: readonly FixtureModule[] = ['echo', 'flaky', 'slow', 'batch', 'hog'];

let bundles: Map<FixtureModule, FunctionCode> | undefined;

/**
 * The bundle of each fixture handler, built by CDK exactly as the product's Lambdas are
 * ({@link WireFunction}: same esbuild options), cached with the runner's cloud assemblies.
 */
export function fixtureBundle(module: FixtureModule): FunctionCode {
  if (!bundles) {
    const synthesized = synthesizeCloudAssembly({
      extraSources: ['test/fixtures/runner'],
      key: { fixtures: fixtureModules },
      build: (app) => {
        const stack = new Stack(app, 'RunnerFixtures');
        for (const module of fixtureModules) {
          new WireFunction(stack, module, {
            handlerName: module,
            entry: join(projectRoot, 'test', 'fixtures', 'runner', `${module}.ts`),
            description: `runner test fixture ${module}`,
          });
        }
        return stack;
      },
    });
    const functions = extractTemplate(synthesized.template, { assets: synthesized.assets }).functions;
    bundles = new Map();
    for (const module of fixtureModules) {
      const code = functions.find((fn) => fn.handler === `test/fixtures/runner/${module}.handler`)?.code;
      if (!code) throw new Error(`fixture ${module} was not bundled`);
      bundles.set(module, code);
    }
  }
  return bundles.get(module) as FunctionCode;
}
