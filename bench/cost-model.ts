/**
 * `npm run cost-model [-- --write]`: the cost and scale model of one hourly backup in AWS, computed from
 * the parameters the code uses — Lambda memory and timeouts from the synthesized stack (the example
 * configuration), batch size and multipart threshold from the configuration schema's defaults, the
 * copy settings (`transferSettingsOf`), the verification sample (`verify-sample.ts`) and the size of a
 * gzipped bucket manifest entry measured by writing real entries — for the workload of issue 12:
 * 10 M objects / 5 TB in MinIO, 6 Cassandra nodes, 0.1 % of the objects changed per hour.
 * `--write` also writes `docs/COST-MODEL.md`. Prices: AWS us-east-1 list prices, assumptions below.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { transferSettingsOf } from '../functions/core/object-transfer.js';
import { minioObjectKey } from '../functions/core/vault-layout.js';
import { loadConfigFile } from '../lib/config.js';
import { featureFlags } from '../lib/feature-flags.js';
import { projectRoot } from '../lib/paths.js';
import { WireBackupStack } from '../lib/wire-backup-stack.js';

/** The workload (issue 12). */
const workload = {
  objects: 10_000_000,
  bytes: 5 * 1e12,
  buckets: 1,
  nodes: 6,
  hourlyChange: 0.001,
  /** Assumed: SSTable files per node and bytes of new SSTables per node per hour (compaction output). */
  sstableFilesPerNode: 5_000,
  newSstableBytesPerNodeHour: 2 * 1e9,
};

/** Assumed latencies (on-prem MinIO over VPN / Direct Connect, S3 in-region). */
const latency = {
  listPageSeconds: 0.08,
  smallObjectSeconds: 0.06,
  headSeconds: 0.02,
  /** Per MB streamed through a Lambda (≈ 100 MB/s per large object). */
  perMbSeconds: 0.01,
};

/** AWS us-east-1 list prices (USD), as of writing. */
const price = {
  putPer1k: 0.005,
  getPer1k: 0.0004,
  listPer1k: 0.005,
  transitionPer1k: 0.025,
  lambdaGbSecond: 0.0000166667,
  lambdaRequestPer1M: 0.2,
  storageGbMonth: 0.023,
};

/** Memory (MiB) and timeout (s) of each Lambda, from the synthesized template. */
function lambdaSizing(): Map<string, { memoryMiB: number; timeoutSeconds: number }> {
  const app = new App({ context: { ...featureFlags, 'aws:cdk:bundling-stacks': [] } });
  const config = loadConfigFile(join(projectRoot, 'config', 'example.json'));
  const stack = new WireBackupStack(app, 'CostModel', { config });
  const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
  const sizing = new Map<string, { memoryMiB: number; timeoutSeconds: number }>();
  for (const resource of Object.values(functions)) {
    const handler = String(resource.Metadata?.WireBackupHandler ?? '');
    const name = /functions\/(.+)\.handler$/.exec(handler)?.[1];
    if (name) {
      sizing.set(name, {
        memoryMiB: Number(resource.Properties?.MemorySize ?? 128),
        timeoutSeconds: Number(resource.Properties?.Timeout ?? 3),
      });
    }
  }
  return sizing;
}

/** Gzipped bytes of one bucket manifest entry, measured on 10,000 entries shaped as the copy writes them. */
function manifestEntryBytes(): number {
  const lines: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    const key = `v3/persistent/${(i * 7919).toString(16).padStart(8, '0')}-${i.toString(36)}-asset`;
    lines.push(
      JSON.stringify({
        key,
        vaultKey: minioObjectKey('assets', key),
        size: 30_000 + i,
        sha256: (i.toString(16).padStart(8, '0') + 'a'.repeat(56)).slice(0, 64),
        etag: (i.toString(16).padStart(8, '0') + 'b'.repeat(24)).slice(0, 32),
        versionId: `${i.toString(16).padStart(8, '0')}-4b7e-4d5a-9c1e-0f6a${i.toString(16).padStart(8, '0')}`,
        contentType: 'application/octet-stream',
        headers: {},
        metadata: {},
        lastModified: new Date(1_700_000_000_000 + i * 1000).toISOString(),
      }),
    );
  }
  return gzipSync(lines.join('\n')).length / lines.length;
}

function money(n: number): string {
  return n < 0.01 ? `$${n.toFixed(4)}` : `$${n.toFixed(2)}`;
}

function int(n: number): string {
  return Math.round(n).toLocaleString('en');
}

/** Computes the model; returns it as Markdown. */
export function costModel(): string {
  const sizing = lambdaSizing();
  const size = (name: string) => {
    const s = sizing.get(name);
    if (!s) throw new Error(`no Lambda for functions/${name}.ts in the synthesized stack`);
    return s;
  };
  const defaults = loadConfigFile(join(projectRoot, 'config', 'example.json'));
  const batchMaxObjects = defaults.minio.batchMaxObjects;
  const planPartObjects = defaults.minio.planPartObjects;
  const transfer = transferSettingsOf({ multipartThresholdBytes: defaults.minio.multipartThresholdBytes });
  const entryBytes = manifestEntryBytes();
  const sampleDivisor = defaults.vault.verifySampleDivisor;

  const changed = workload.objects * workload.hourlyChange;
  const changedBytes = workload.bytes * workload.hourlyChange;
  const pages = workload.objects / 1000;
  const batches = Math.ceil(changed / batchMaxObjects);
  const sampled = workload.objects / sampleDivisor;
  const manifestBytes = workload.objects * entryBytes;
  const manifestParts = Math.ceil(manifestBytes / (5 * 1024 * 1024));
  // Plan MinIO: each bucket in parts of about planPartObjects (its previous backup's parts file); part
  // p of P lists its 1/P of the pages and reads the previous manifest from the start to its slice's
  // end (ranged GETs of 8 MiB), so the last part reads all of it.
  const objectsPerBucket = workload.objects / workload.buckets;
  const partsPerBucket = Math.max(1, Math.ceil(objectsPerBucket / planPartObjects));
  const manifestBytesPerBucket = manifestBytes / workload.buckets;
  const manifestRanges = Math.ceil(manifestBytesPerBucket / (8 * 1024 * 1024));
  const planManifestReads = workload.buckets * Math.ceil((manifestRanges * (partsPerBucket + 1)) / 2);

  // Requests on the vault (S3) per hourly run. Source requests go to the on-prem MinIO (no AWS charge).
  const vaultPuts =
    changed + // one PUT per changed object (all below the multipart threshold at 500 KB average)
    2 * batches + // batch file + its result
    2 * manifestParts + // bucket manifest and carried files, multipart
    workload.buckets * partsPerBucket + // plan.json of each part
    workload.buckets + // parts file (where the next plan splits)
    workload.nodes * 4; // node manifest, files list, inventory, node info
  const vaultGets =
    // Written versions cost no HEAD: S3 echoes the checksum the SDK sent (verifyWrittenVersion).
    sampled + // rotating sample of carried objects (Finalize MinIO)
    workload.nodes * (workload.sstableFilesPerNode / sampleDivisor) + // reused SSTables sampled
    planManifestReads + // previous manifest read by the parts (planning)
    Math.ceil(manifestBytes / (8 * 1024 * 1024)) + // carried files read (finalize)
    workload.buckets * (1 + partsPerBucket) + // parts file: read by Prepare and by each part
    3 * batches; // batch file read twice, result read once
  const vaultLists = 10; // previous backups, clean-up of a plan folder: a handful

  // Lambda seconds.
  // Plan MinIO runs once per part of each bucket, Finalize MinIO once per bucket (the Plan/Finalize
  // MinIO Maps), the objects spread evenly over the buckets. A part's seconds: its listing pages plus
  // the previous manifest up to its slice's end; the last part (the longest) reads all of it.
  const partListSeconds = (pages / workload.buckets / partsPerBucket) * latency.listPageSeconds;
  const manifestReadSeconds = (manifestBytesPerBucket / 1e6) * latency.perMbSeconds;
  const planSeconds = partListSeconds + (manifestReadSeconds * (partsPerBucket + 1)) / (2 * partsPerBucket);
  const planLongestSeconds = partListSeconds + manifestReadSeconds;
  // A bucket's first backup has no parts file: one invocation lists all of it (nothing to read besides).
  const firstPlanSeconds = (pages / workload.buckets) * latency.listPageSeconds;
  const copySecondsPerBatch = (batchMaxObjects * latency.smallObjectSeconds) / transfer.concurrency;
  const finalizeSeconds =
    ((2 * manifestBytes) / 1e6 / 50 + (sampled * latency.headSeconds) / 16) / workload.buckets;
  const nodeSeconds =
    ((workload.sstableFilesPerNode / sampleDivisor) * latency.headSeconds) / 16 +
    (workload.newSstableBytesPerNodeHour / 1e6) * latency.perMbSeconds; // deep verify re-reads new SSTables
  const gbs = (name: string, seconds: number) => (size(name).memoryMiB / 1024) * seconds;
  const lambda = [
    {
      name: 'plan-minio',
      invocations: workload.buckets * partsPerBucket,
      seconds: planSeconds,
      longestSeconds: planLongestSeconds,
    },
    { name: 'copy-batch', invocations: batches, seconds: copySecondsPerBatch },
    { name: 'finalize-minio', invocations: workload.buckets, seconds: finalizeSeconds },
    { name: 'finalize-node', invocations: workload.nodes, seconds: nodeSeconds },
  ].map((l) => ({
    longestSeconds: l.seconds,
    ...l,
    memoryMiB: size(l.name).memoryMiB,
    timeoutSeconds: size(l.name).timeoutSeconds,
    gbSeconds: l.invocations * gbs(l.name, l.seconds),
  }));
  const otherGbSeconds = 20 * 0.5 * 0.5; // about 20 small steps (prepare, commit, …) of 0.5 s at 512 MiB
  const totalGbSeconds = lambda.reduce((n, l) => n + l.gbSeconds, 0) + otherGbSeconds;

  // State transitions: the parent's fixed path, per node (snapshot via SSM with task tokens or polling,
  // finalize), per batch (a child workflow: start, Copy Batch, Done).
  // Per part: its Plan MinIO iteration; per bucket: its Finalize MinIO iteration (Index MinIO Batches
  // and Check MinIO Copies are on the fixed path).
  const fixedTransitions = 47;
  const perNodeTransitions = 12;
  const perBucketTransitions = 1;
  const perPartTransitions = 1;
  const perBatchTransitions = 3;
  const transitions =
    fixedTransitions +
    workload.nodes * perNodeTransitions +
    workload.buckets * perBucketTransitions +
    workload.buckets * partsPerBucket * perPartTransitions +
    batches * perBatchTransitions;

  const newStorageGb =
    (changedBytes + workload.nodes * workload.newSstableBytesPerNodeHour + 2 * manifestBytes) / 1e9;
  const cost = {
    puts: (vaultPuts / 1000) * price.putPer1k,
    gets: (vaultGets / 1000) * price.getPer1k,
    lists: (vaultLists / 1000) * price.listPer1k,
    transitions: (transitions / 1000) * price.transitionPer1k,
    lambda:
      totalGbSeconds * price.lambdaGbSecond +
      ((lambda.reduce((n, l) => n + l.invocations, 0) + 20) / 1e6) * price.lambdaRequestPer1M,
    storageMonth: newStorageGb * price.storageGbMonth,
  };
  const perRun = cost.puts + cost.gets + cost.lists + cost.transitions + cost.lambda;

  const out: string[] = [];
  out.push('# Cost and scale model of one hourly backup in AWS');
  out.push('');
  out.push(
    'Generated by `npm run cost-model -- --write` (`bench/cost-model.ts`) from the parameters the code uses: Lambda memory and timeouts from the synthesized stack (`config/example.json`), `batchMaxObjects` and the multipart threshold from the configuration defaults, the copy settings of `transferSettingsOf`, the verification sample (`vault.verifySampleDivisor`), and a gzipped manifest entry measured by writing 10,000 of them. Do not edit by hand.',
  );
  out.push('');
  out.push('## Workload and parameters');
  out.push('');
  out.push('| parameter | value | from |');
  out.push('| --- | --- | --- |');
  out.push(`| objects in MinIO | ${int(workload.objects)} in ${workload.buckets} bucket | issue 12 |`);
  out.push(`| bytes in MinIO | ${(workload.bytes / 1e12).toFixed(1)} TB | issue 12 |`);
  out.push(
    `| Cassandra nodes | ${workload.nodes} (assumed ${int(workload.sstableFilesPerNode)} SSTable files, ${(workload.newSstableBytesPerNodeHour / 1e9).toFixed(0)} GB new per node and hour) | issue 12; assumption |`,
  );
  out.push(
    `| changed per hour | ${(workload.hourlyChange * 100).toFixed(1)} % = ${int(changed)} objects, ${(changedBytes / 1e9).toFixed(1)} GB | issue 12 |`,
  );
  out.push(`| objects per batch | ${int(batchMaxObjects)} | \`minio.batchMaxObjects\` default |`);
  out.push(
    `| objects per part of a bucket's plan | ${int(planPartObjects)} → ${partsPerBucket} part${partsPerBucket === 1 ? '' : 's'} per bucket | \`minio.planPartObjects\` default |`,
  );
  out.push(
    `| objects in flight per copy batch | ${transfer.concurrency} (buffer budget ${(transfer.memoryBudgetBytes / 2 ** 20).toFixed(0)} MiB, parts ${(transfer.partSizeBytes / 2 ** 20).toFixed(0)} MiB × ${transfer.queueSize} in flight) | \`transferSettingsOf\` |`,
  );
  out.push(
    `| carried objects / reused SSTables re-checked per run | 1/${sampleDivisor} | \`verify-sample.ts\` |`,
  );
  out.push(
    `| gzipped manifest entry | ${entryBytes.toFixed(0)} bytes → manifest ${(manifestBytes / 1e9).toFixed(2)} GB | measured |`,
  );
  out.push(
    `| latencies | list page ${latency.listPageSeconds} s, small object ${latency.smallObjectSeconds} s, HEAD ${latency.headSeconds} s, ${(1 / latency.perMbSeconds).toFixed(0)} MB/s streamed | assumption |`,
  );
  out.push('');
  out.push('## Per hourly run');
  out.push('');
  out.push('| item | count | cost |');
  out.push('| --- | --- | --- |');
  out.push(`| vault PUT (incl. multipart parts) | ${int(vaultPuts)} | ${money(cost.puts)} |`);
  out.push(
    `| vault GET/HEAD | ${int(vaultGets)} (of which ${int(sampled)} sampled carried objects; written versions are verified from the PUT's checksum echo, no HEAD) | ${money(cost.gets)} |`,
  );
  out.push(`| vault LIST | ${int(vaultLists)} | ${money(cost.lists)} |`);
  out.push(
    `| source MinIO requests (on-prem, no AWS charge) | ${int(pages)} LIST + ${int(changed)} GET | — |`,
  );
  out.push(
    `| state transitions | ${int(transitions)} (${fixedTransitions} fixed + ${perNodeTransitions}/node + ${perBucketTransitions}/bucket + ${perPartTransitions}/plan part × ${int(workload.buckets * partsPerBucket)} + ${perBatchTransitions}/batch × ${int(batches)} batches) | ${money(cost.transitions)} |`,
  );
  out.push(`| Lambda | ${totalGbSeconds.toFixed(0)} GB-s | ${money(cost.lambda)} |`);
  out.push(`| **per run** | | **${money(perRun)}** (× 24 × 30 = ${money(perRun * 720)} a month) |`);
  out.push(
    `| new vault storage | ${newStorageGb.toFixed(1)} GB (changed objects, new SSTables, manifest + carried file) | ${money(cost.storageMonth)} per month it is kept |`,
  );
  out.push('');
  out.push('## Lambdas against their limits');
  out.push('');
  out.push(
    '| Lambda | memory MiB | timeout s | invocations | seconds each (model) | longest (model) | GB-s | headroom of the longest |',
  );
  out.push('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const l of lambda) {
    const headroom = l.timeoutSeconds / l.longestSeconds;
    out.push(
      `| ${l.name} | ${l.memoryMiB} | ${l.timeoutSeconds} | ${int(l.invocations)} | ${l.seconds.toFixed(1)} | ${l.longestSeconds.toFixed(1)} | ${l.gbSeconds.toFixed(0)} | ${headroom >= 1 ? `${headroom.toFixed(1)}×` : `**over by ${(1 / headroom).toFixed(1)}×**`} |`,
    );
  }
  out.push('');
  out.push(
    `Plan MinIO runs once per part of each bucket and Finalize MinIO once per bucket, each in its own invocation (the Plan MinIO and Finalize MinIO Maps), so neither the number of buckets nor their size adds up in one Lambda. A bucket is planned in parts of about ${int(planPartObjects)} objects (\`minio.planPartObjects\`), split where the previous backup's Finalize MinIO recorded every ${int(planPartObjects)}th key: the ${int(objectsPerBucket)} objects per bucket modelled here are planned by ${partsPerBucket} invocations of ${planSeconds.toFixed(0)} s on average; the longest, the last part, lists its ${int(pages / workload.buckets / partsPerBucket)} pages and reads the whole previous manifest (${(manifestBytesPerBucket / 1e9).toFixed(2)} GB) to reach its slice, ${planLongestSeconds.toFixed(0)} s of its ${size('plan-minio').timeoutSeconds} s. That read grows with the bucket: the last part reaches the timeout at about ${int((((size('plan-minio').timeoutSeconds - partListSeconds) / latency.perMbSeconds) * 1e6) / entryBytes / 1e6)} M objects in one bucket. A bucket's first backup has no parts file yet and is planned whole: listing all ${int(objectsPerBucket)} objects takes ${firstPlanSeconds.toFixed(0)} s here, so a first backup fits one invocation up to about ${(((size('plan-minio').timeoutSeconds / latency.listPageSeconds) * 1000) / 1e6).toFixed(1)} M objects per bucket. Without the rotating sample, Finalize MinIO would HEAD all ${int(workload.objects)} objects every hour: ${int(workload.objects)} requests (${money((workload.objects / 1000) * price.getPer1k)} per run, ${money((workload.objects / 1000) * price.getPer1k * 720)} a month) and about ${((workload.objects * latency.headSeconds) / 16).toFixed(0)} s at 16 at a time, over its timeout.`,
  );
  out.push('');
  const fullCopyHours = ((workload.objects / batchMaxObjects / 20) * copySecondsPerBatch) / 3600;
  const linkForTwelveHours = workload.bytes / (12 * 3600 - fullCopyHours * 3600) / 1e6;
  out.push(
    `The first full backup copies ${int(workload.objects)} objects in ${int(workload.objects / batchMaxObjects)} batches: at 20 batches in flight (the Distributed Map's default) and ${copySecondsPerBatch.toFixed(1)} s of requests per batch that is ${fullCopyHours.toFixed(1)} h, plus ${(workload.bytes / 1e12).toFixed(0)} TB through the link. It fits the 12 h execution timeout when the link from the MinIO servers to AWS carries at least ${linkForTwelveHours.toFixed(0)} MB/s; below that, a full backup does not finish in one execution, and the next backup carries what it copied and copies the rest (resuming: \`minio-plan.ts\`).`,
  );
  out.push('');
  out.push(
    'State transitions are estimated (fixed path and per-node counts are not counted from a run here); per batch, a Distributed Map child (Standard) makes 3.',
  );
  return `${out.join('\n')}\n`;
}

const markdown = costModel();
process.stdout.write(markdown);
if (process.argv.includes('--write')) {
  writeFileSync(join(projectRoot, 'docs', 'COST-MODEL.md'), markdown);
  console.error('wrote docs/COST-MODEL.md');
}
