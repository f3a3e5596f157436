/**
 * Synthesizes a CDK app **with bundling** — the Lambda code is the bundle esbuild builds, as `cdk
 * deploy` uploads it — and caches the cloud assembly in `<repo>/.synth-cache/<hash>/`. The hash covers
 * every file under the source folders that feed the synthesis (handlers, constructs, state machines,
 * host scripts, the lock file) plus the caller's key (e.g. the configuration), so a cached assembly
 * is reused only while none of its inputs changed; anything else synthesizes (and bundles) afresh.
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
import { join, relative } from 'node:path';
import { App, AssetStaging, type Stack } from 'aws-cdk-lib';
import { repoRoot } from '../stack-info.js';
import { RunnerSetupError } from './errors.js';
import type { CfnTemplate } from './extract.js';

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
  /** Assemblies kept in the cache, most recently used first. @default 8 */
  readonly keep?: number;
}

/** A synthesized stack with its bundled assets. */
export interface SynthesizedStack {
  readonly template: CfnTemplate;
  /** The cloud assembly folder (`cdk.out` layout). */
  readonly assemblyDir: string;
  /** Asset folder by S3 object key (`<hash>.zip`), as the template's `Code.S3Key` names it. */
  readonly assets: Readonly<Record<string, string>>;
  /** True when the assembly came from the cache. */
  readonly cached: boolean;
}

const manifestFile = 'synth.json';

/** Synthesizes (or reuses) the stack `options.build` adds; see the module comment. */
export function synthesizeCloudAssembly(options: SynthesizeOptions): SynthesizedStack {
  const cacheDir = options.cacheDir ?? join(repoRoot, '.synth-cache');
  const hash = sourceHash([...defaultSynthSources, ...(options.extraSources ?? [])], {
    key: options.key ?? null,
    context: options.context ?? {},
    node: process.version,
  });
  const dir = join(cacheDir, hash);
  if (existsSync(join(dir, manifestFile))) {
    const now = new Date();
    utimesSync(dir, now, now);
    return { ...readSynthesized(dir), cached: true };
  }

  mkdirSync(cacheDir, { recursive: true });
  const building = join(cacheDir, `building-${randomUUID()}`);
  try {
    // CDK remembers bundled assets per process by hash and would copy them from an earlier
    // assembly folder, which may have been renamed or pruned since.
    AssetStaging.clearAssetHashCache();
    const app = new App({ outdir: building, context: { ...options.context } });
    const stack = options.build(app);
    const assembly = app.synth();
    const artifact = assembly.getStackByName(stack.stackName);
    writeJson(join(building, manifestFile), {
      templateFile: artifact.templateFile,
      assetManifests: readdirSync(building).filter((name) => name.endsWith('.assets.json')),
    });
    try {
      renameSync(building, dir);
    } catch (error) {
      // Another process synthesized the same sources first: theirs is as good as ours.
      if (!existsSync(join(dir, manifestFile))) throw error;
      rmSync(building, { recursive: true, force: true });
    }
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    throw error;
  }
  prune(cacheDir, options.keep ?? 8);
  return { ...readSynthesized(dir), cached: false };
}

/** Reads the template and the asset folders of a cached assembly. */
function readSynthesized(dir: string): Omit<SynthesizedStack, 'cached'> {
  const manifest = JSON.parse(readFileSync(join(dir, manifestFile), 'utf8')) as {
    templateFile: string;
    assetManifests: string[];
  };
  const template = JSON.parse(readFileSync(join(dir, manifest.templateFile), 'utf8')) as CfnTemplate;
  return { template, assemblyDir: dir, assets: readAssetDirectories(dir, manifest.assetManifests) };
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

function writeJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}
