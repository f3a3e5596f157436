/**
 * Synthesizes a CDK app **with bundling** — the Lambda code is the bundle esbuild builds, as `cdk
 * deploy` uploads it — and caches the result in `<repo>/.synth-cache/<hash>/`. The hash covers every
 * file under the source folders that feed the synthesis (handlers, constructs, state machines, host
 * scripts, the lock file), the context and the Node version; under it, one template per caller key
 * (e.g. the configuration). A cached result is reused only while none of its inputs changed; a
 * source change synthesizes and bundles afresh.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { App, AssetStaging, type Stack } from 'aws-cdk-lib';
import { repoRoot } from '../stack-info.js';
import { RunnerSetupError } from './errors.js';
import { type CfnTemplate, handlerMetadataKey } from './extract.js';

/** Files and folders (relative to the repository root) whose content every synthesis depends on. */
export const defaultSynthSources: readonly string[] = [
  'lib',
  'functions',
  'statemachines',
  'host-scripts',
  'package-lock.json',
  'tsconfig.json',
  'local/runner/cloud-assembly.ts',
];

/** Options of {@link synthesizeCloudAssembly}. */
export interface SynthesizeOptions {
  /** Adds the stack to the app; the stack it returns is the one read. */
  readonly build: (app: App) => Stack;
  /** What else the synthesis depends on (configuration, context), as JSON. @default - nothing */
  readonly key?: unknown;
  /** Extra source files or folders (relative to the repository root), e.g. test fixtures. @default - none */
  readonly extraSources?: readonly string[];
  /** Context of the app. @default - none */
  readonly context?: Readonly<Record<string, unknown>>;
  /** Cache folder. @default `<repo>/.synth-cache` */
  readonly cacheDir?: string;
  /** Source versions kept in the cache, most recently used first. @default 4 */
  readonly keep?: number;
}

/** A synthesized stack with its bundled assets. */
export interface SynthesizedStack {
  readonly template: CfnTemplate;
  /** The cache entry holding the bundles (`asset.<hash>/` folders, as in `cdk.out`). */
  readonly assemblyDir: string;
  /** Asset folder by S3 object key (`<hash>.zip`), as the template's `Code.S3Key` names it. */
  readonly assets: Readonly<Record<string, string>>;
  /** True when the assembly came from the cache. */
  readonly cached: boolean;
}

const bundleIndexFile = 'bundles.json';

/** A cached template with the bundle folder (relative to the cache entry) of each `Code.S3Key`. */
interface CachedTemplate {
  readonly template: CfnTemplate;
  readonly assets: Record<string, string>;
}

/**
 * Synthesizes (or reuses) the stack `options.build` adds; see the module comment. Bundles depend on
 * the sources only, not on `key`: one cache entry per source hash holds the bundles (by
 * `WireBackupHandler` module) and one template per key; a key not seen before is synthesized without
 * bundling (seconds) and given the entry's bundles, unless it has a function they lack.
 */
export function synthesizeCloudAssembly(options: SynthesizeOptions): SynthesizedStack {
  const cacheDir = options.cacheDir ?? join(repoRoot, '.synth-cache');
  const context = options.context ?? {};
  const entry = join(
    cacheDir,
    sourceHash([...defaultSynthSources, ...(options.extraSources ?? [])], { context, node: process.version }),
  );
  const templateFile = join(
    entry,
    'templates',
    `${createHash('sha256')
      .update(JSON.stringify(options.key ?? null))
      .digest('hex')
      .slice(0, 32)}.json`,
  );
  if (existsSync(templateFile)) {
    const now = new Date();
    utimesSync(entry, now, now);
    return { ...readCachedTemplate(entry, templateFile), cached: true };
  }

  mkdirSync(cacheDir, { recursive: true });
  if (existsSync(join(entry, bundleIndexFile))) {
    const unbundled = synthesize(cacheDir, { ...context, 'aws:cdk:bundling-stacks': [] }, options.build);
    rmSync(unbundled.outdir, { recursive: true, force: true });
    const assets = bundledAssets(unbundled.template, readBundleIndex(entry));
    if (assets) {
      writeJsonAtomically(templateFile, { template: unbundled.template, assets });
      return { ...readCachedTemplate(entry, templateFile), cached: true };
    }
  }

  // No bundles for these sources yet (or not for every function): bundle, as `cdk deploy` would.
  const bundled = synthesize(cacheDir, context, options.build);
  try {
    const index: Record<string, string> = {};
    const assets: Record<string, string> = {};
    const directories = readAssetDirectories(bundled.outdir);
    for (const [s3Key, directory] of Object.entries(directories)) {
      assets[s3Key] = basename(directory);
    }
    for (const resource of Object.values(bundled.template.Resources ?? {})) {
      const handler = resource.Metadata?.[handlerMetadataKey];
      const s3Key = (resource.Properties?.Code as { S3Key?: unknown } | undefined)?.S3Key;
      const directory = typeof s3Key === 'string' ? assets[s3Key] : undefined;
      if (resource.Type === 'AWS::Lambda::Function' && typeof handler === 'string' && directory) {
        index[handler] = directory;
      }
    }
    mkdirSync(entry, { recursive: true });
    for (const directory of new Set(Object.values(assets))) {
      const target = join(entry, directory);
      // Same name, same content: CDK names bundles by the hash of their output.
      if (!existsSync(target)) renameSync(join(bundled.outdir, directory), target);
    }
    writeJsonAtomically(join(entry, bundleIndexFile), { ...readBundleIndex(entry), ...index });
    writeJsonAtomically(templateFile, { template: bundled.template, assets });
  } finally {
    rmSync(bundled.outdir, { recursive: true, force: true });
  }
  prune(cacheDir, options.keep ?? 4);
  return { ...readCachedTemplate(entry, templateFile), cached: false };
}

/** Synthesizes into a fresh folder under `cacheDir`; the caller removes it. */
function synthesize(
  cacheDir: string,
  context: Readonly<Record<string, unknown>>,
  build: (app: App) => Stack,
): { outdir: string; template: CfnTemplate } {
  const outdir = join(cacheDir, `building-${randomUUID()}`);
  try {
    // CDK remembers staged assets per process; a cached entry may point into a removed folder.
    AssetStaging.clearAssetHashCache();
    const app = new App({ outdir, context: { ...context } });
    const stack = build(app);
    const artifact = app.synth().getStackByName(stack.stackName);
    return { outdir, template: JSON.parse(readFileSync(artifact.templateFullPath, 'utf8')) as CfnTemplate };
  } catch (error) {
    rmSync(outdir, { recursive: true, force: true });
    throw error;
  }
}

/** Bundle folder (relative to the entry) by `WireBackupHandler` module. */
function readBundleIndex(entry: string): Record<string, string> {
  const file = join(entry, bundleIndexFile);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>) : {};
}

/** The bundle of every function of `template` that has handler metadata, by `Code.S3Key`; undefined if one is missing. */
function bundledAssets(
  template: CfnTemplate,
  index: Record<string, string>,
): Record<string, string> | undefined {
  const assets: Record<string, string> = {};
  for (const resource of Object.values(template.Resources ?? {})) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const handler = resource.Metadata?.[handlerMetadataKey];
    if (typeof handler !== 'string') continue;
    const s3Key = (resource.Properties?.Code as { S3Key?: unknown } | undefined)?.S3Key;
    const directory = index[handler];
    if (typeof s3Key !== 'string' || !directory) return undefined;
    assets[s3Key] = directory;
  }
  return assets;
}

function readCachedTemplate(entry: string, file: string): Omit<SynthesizedStack, 'cached'> {
  const cached = JSON.parse(readFileSync(file, 'utf8')) as CachedTemplate;
  const assets: Record<string, string> = {};
  for (const [s3Key, directory] of Object.entries(cached.assets)) assets[s3Key] = join(entry, directory);
  return { template: cached.template, assemblyDir: entry, assets };
}

/**
 * Asset folders by S3 object key, from the assembly's asset manifests (`<stack>.assets.json`): what
 * `cdk deploy` would zip and upload as `<hash>.zip`.
 */
export function readAssetDirectories(
  assemblyDir: string,
  assetManifests: readonly string[] = readdirSync(assemblyDir).filter((name) =>
    name.endsWith('.assets.json'),
  ),
): Record<string, string> {
  const assets: Record<string, string> = {};
  for (const name of assetManifests) {
    const manifest = JSON.parse(readFileSync(join(assemblyDir, name), 'utf8')) as {
      files?: Record<
        string,
        {
          source?: { path?: string; packaging?: string };
          destinations?: Record<string, { objectKey?: string }>;
        }
      >;
    };
    for (const file of Object.values(manifest.files ?? {})) {
      const path = file.source?.path;
      if (!path || file.source?.packaging !== 'zip') continue;
      for (const destination of Object.values(file.destinations ?? {})) {
        if (destination.objectKey) assets[destination.objectKey] = join(assemblyDir, path);
      }
    }
  }
  return assets;
}

/** SHA-256 over every file under `sources` (paths and contents, in a stable order) and `extra`. */
function sourceHash(sources: readonly string[], extra: unknown): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(extra));
  const files: string[] = [];
  const walk = (path: string) => {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) {
      throw new RunnerSetupError(`synthesis source ${relative(repoRoot, path)} does not exist`);
    }
    if (stat.isDirectory()) {
      for (const name of readdirSync(path)) {
        if (name === 'node_modules' || name.startsWith('.')) continue;
        walk(join(path, name));
      }
    } else if (stat.isFile()) {
      files.push(path);
    }
  };
  for (const source of sources) walk(join(repoRoot, source));
  for (const file of [...new Set(files)].sort()) {
    hash.update(`\0${relative(repoRoot, file)}\0`);
    hash.update(readFileSync(file));
  }
  return hash.digest('hex').slice(0, 32);
}

/** Keeps the `keep` most recently used assemblies; drops leftovers of interrupted builds older than an hour. */
function prune(cacheDir: string, keep: number): void {
  const entries = readdirSync(cacheDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => {
      const path = join(cacheDir, entry.name);
      return { name: entry.name, path, mtime: statSync(path).mtimeMs };
    });
  const hourAgo = Date.now() - 3_600_000;
  for (const entry of entries) {
    if (entry.name.startsWith('building-') && entry.mtime < hourAgo) {
      rmSync(entry.path, { recursive: true, force: true });
    }
  }
  const complete = entries
    .filter((entry) => !entry.name.startsWith('building-'))
    .sort((a, b) => b.mtime - a.mtime);
  for (const entry of complete.slice(keep)) rmSync(entry.path, { recursive: true, force: true });
}

/** Writes JSON so that concurrent readers see the old file or the new one, never half of one. */
function writeJsonAtomically(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${randomUUID()}.tmp`;
  writeFileSync(temporary, JSON.stringify(value));
  renameSync(temporary, file);
}
