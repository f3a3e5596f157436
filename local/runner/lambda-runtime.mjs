/**
 * The local Lambda runtime: runs in a worker thread, one per warm container, and plays the part of
 * Lambda's Node.js 22 runtime for the one bundle it was started with (`workerData`).
 * - Init: imports the bundle once, as Lambda does when a container starts. The bundle sees only its
 *   own folder, as in `/var/task`: a package import it left external fails to resolve, even though
 *   the repository's node_modules is on disk.
 * - Logs: console output is posted to the runner as `{ log, stream }`.
 * - Invoke: receives `{ id, event, context }` (the event as a JSON string, as Lambda passes it),
 *   calls the handler, answers `{ id, payload }` (the result as a JSON string) or
 *   `{ id, errorType, errorMessage, trace, fatal }`. `fatal` means the container must not be reused.
 * Plain JavaScript: worker threads do not inherit the TypeScript loader of vitest or tsx.
 */
import { existsSync } from 'node:fs';
import { isBuiltin, registerHooks } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';
import { parentPort, workerData } from 'node:worker_threads';

const { taskRoot, module: moduleName, exportName } = workerData;

if ((process.env.NODE_OPTIONS ?? '').includes('--enable-source-maps')) process.setSourceMapsEnabled(true);

// Lambda's runtime takes over console (to CloudWatch); here each line goes to the runner, which
// prints it with its own console (so test runners can filter it).
for (const [method, stream] of [
  ['log', 'stdout'],
  ['info', 'stdout'],
  ['debug', 'stdout'],
  ['warn', 'stderr'],
  ['error', 'stderr'],
  ['trace', 'stderr'],
]) {
  console[method] = (...args) => parentPort.postMessage({ log: format(...args), stream });
}

// Lambda's task root has no node_modules: only built-ins and the bundle's own files resolve.
registerHooks({
  resolve(specifier, context, nextResolve) {
    if (isBuiltin(specifier) || /^(\.|\/|file:|data:)/.test(specifier))
      return nextResolve(specifier, context);
    const error = new Error(
      `Cannot find package '${specifier}' imported from ${context.parentURL ?? taskRoot}: Lambda has only the bundle; bundle the package (lib/constructs/wire-function.ts)`,
    );
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  },
});

/** Lambda's error types for failures of the runtime itself (not thrown by the handler). */
function initErrorType(error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND') return 'Runtime.ImportModuleError';
  if (error instanceof SyntaxError) return 'Runtime.UserCodeSyntaxError';
  return error?.name || 'Error';
}

function describe(error, errorType) {
  if (error instanceof Error) {
    return {
      errorType: errorType ?? (error.name || 'Error'),
      errorMessage: error.message,
      trace: (error.stack ?? '').split('\n'),
    };
  }
  return { errorType: errorType ?? 'Error', errorMessage: String(error), trace: [] };
}

async function findModule() {
  for (const extension of ['.mjs', '.js', '.cjs']) {
    const file = join(taskRoot, `${moduleName}${extension}`);
    if (existsSync(file)) return await import(pathToFileURL(file).href);
  }
  const error = new Error(`Cannot find module '${moduleName}' in ${taskRoot}`);
  error.code = 'ERR_MODULE_NOT_FOUND';
  throw error;
}

const init = (async () => {
  const loaded = await findModule();
  const handler = loaded[exportName];
  if (typeof handler !== 'function') {
    const error = new Error(`${moduleName}.${exportName} is undefined or not exported`);
    error.name = 'Runtime.HandlerNotFound';
    throw error;
  }
  return handler;
})();
// An init failure is reported to the first invocation, not as an unhandled rejection.
init.catch(() => {});

parentPort.on('message', async ({ id, event, context }) => {
  let handler;
  try {
    handler = await init;
  } catch (error) {
    parentPort.postMessage({
      id,
      ...describe(error, error?.name?.startsWith('Runtime.') ? error.name : initErrorType(error)),
      fatal: true,
    });
    return;
  }
  const deadline = context.deadline;
  const lambdaContext = {
    ...context,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    const result = await handler(JSON.parse(event), lambdaContext);
    parentPort.postMessage({ id, payload: result === undefined ? 'null' : JSON.stringify(result) });
  } catch (error) {
    parentPort.postMessage({ id, ...describe(error), fatal: false });
  }
});
