import { format } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clusterDimensions, emitMetrics, metricNamespace } from '../../functions/core/telemetry.js';

/**
 * What Lambda's Node.js runtime does with `loggingFormat: JSON` (the stack's setting): every `console`
 * call becomes one JSON object whose `message` is the formatted arguments; bytes written to stdout
 * directly pass as they are.
 */
function lambdaJsonLogFormat(write: (line: string) => void): () => void {
  const saved = { log: console.log, info: console.info, warn: console.warn, error: console.error };
  const wrap =
    (level: string) =>
    (...args: unknown[]) =>
      write(
        `${JSON.stringify({ timestamp: new Date().toISOString(), level, requestId: 'r-1', message: format(...args) })}\n`,
      );
  console.log = wrap('INFO');
  console.info = wrap('INFO');
  console.warn = wrap('WARN');
  console.error = wrap('ERROR');
  return () => Object.assign(console, saved);
}

interface ExtractedMetric {
  readonly namespace: string;
  readonly name: string;
  readonly unit: string | undefined;
  readonly value: unknown;
  readonly dimensions: Record<string, unknown>;
}

/**
 * CloudWatch Logs' EMF extraction (CloudWatch User Guide, "Specification: Embedded metric format"): a
 * log event is an EMF document only if it is a JSON object whose root holds `_aws` with `Timestamp`
 * and `CloudWatchMetrics`; each directive's metric values and dimension values are read from root
 * members of the same names. Anything else (e.g. EMF text inside `message`) is a plain log event.
 */
function extractEmf(logEvent: string): ExtractedMetric[] {
  let root: unknown;
  try {
    root = JSON.parse(logEvent);
  } catch {
    return [];
  }
  if (!root || typeof root !== 'object' || Array.isArray(root)) return [];
  const doc = root as Record<string, unknown> & {
    _aws?: {
      Timestamp?: unknown;
      CloudWatchMetrics?: {
        Namespace: string;
        Dimensions: string[][];
        Metrics: { Name: string; Unit?: string }[];
      }[];
    };
  };
  if (typeof doc._aws?.Timestamp !== 'number' || !Array.isArray(doc._aws.CloudWatchMetrics)) return [];
  return doc._aws.CloudWatchMetrics.flatMap((directive) =>
    directive.Dimensions.flatMap((set) =>
      directive.Metrics.filter((m) => m.Name in doc).map((m) => ({
        namespace: directive.Namespace,
        name: m.Name,
        unit: m.Unit,
        value: doc[m.Name],
        dimensions: Object.fromEntries(set.map((d) => [d, doc[d]])),
      })),
    ),
  );
}

describe('emitMetrics', () => {
  let stdout: string[];
  let restoreConsole: () => void;
  let restoreWrite: () => void;

  beforeEach(() => {
    stdout = [];
    const write = process.stdout.write.bind(process.stdout);
    const capture = (chunk: string | Uint8Array) => {
      stdout.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    };
    process.stdout.write = capture as typeof process.stdout.write;
    restoreWrite = () => {
      process.stdout.write = write;
    };
    restoreConsole = lambdaJsonLogFormat((line) => capture(line));
  });

  afterEach(() => {
    restoreConsole();
    restoreWrite();
  });

  const logEvents = () =>
    stdout
      .join('')
      .split('\n')
      .filter((line) => line.trim() !== '');

  it('becomes metrics when CloudWatch reads the log of a function with the JSON log format', () => {
    // Act
    emitMetrics(
      { BackupSucceeded: { value: 1, unit: 'Count' }, BackupBytes: { value: 4096, unit: 'Bytes' } },
      'wire-prod',
    );

    // Assert
    const metrics = logEvents().flatMap(extractEmf);
    expect(metrics).toEqual(
      expect.arrayContaining([
        {
          namespace: metricNamespace,
          name: 'BackupSucceeded',
          unit: 'Count',
          value: 1,
          dimensions: clusterDimensions('wire-prod'),
        },
        {
          namespace: metricNamespace,
          name: 'BackupBytes',
          unit: 'Bytes',
          value: 4096,
          dimensions: clusterDimensions('wire-prod'),
        },
      ]),
    );
  });

  it('is what console.log of the same EMF document is not: a metric (the old way never was one)', () => {
    // Arrange: the EMF document the earlier code printed with console.log.
    const emf = {
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [
          {
            Namespace: metricNamespace,
            Dimensions: [['Cluster']],
            Metrics: [{ Name: 'BackupSucceeded', Unit: 'Count' }],
          },
        ],
      },
      Cluster: 'wire-prod',
      BackupSucceeded: 1,
    };

    // Act
    console.log(JSON.stringify(emf));

    // Assert: wrapped in `message`, it is a log line and no metric.
    const events = logEvents();
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0] ?? '{}')).toHaveProperty('message');
    expect(events.flatMap(extractEmf)).toEqual([]);
  });
});
