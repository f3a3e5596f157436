import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Environment of the running function. In AWS each Lambda has its own process environment; the
 * local runner runs every handler in one process, so it binds each call to that function's
 * `Environment.Variables` with {@link runWithEnv}. Code reads variables only through {@link requireEnv}
 * and {@link optionalEnv}.
 */
const scopedEnv = new AsyncLocalStorage<Readonly<Record<string, string>>>();

/** Runs `fn` with `env` as the function environment (the local runner's per-function scope). */
export function runWithEnv<T>(env: Readonly<Record<string, string>>, fn: () => T): T {
  return scopedEnv.run(env, fn);
}

/** Reads an optional environment variable of the running function. */
export function optionalEnv(name: string): string | undefined {
  const scoped = scopedEnv.getStore();
  if (scoped && name in scoped) return scoped[name];
  return process.env[name];
}

/** Reads a required environment variable; throws naming the variable when it is missing or empty. */
export function requireEnv(name: string): string {
  const value = optionalEnv(name);
  if (value === undefined || value === '') {
    throw new Error(
      `environment variable ${name} is not set: the stack sets it on the function; locally the runner copies it from the template`,
    );
  }
  return value;
}
