import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * Structured logs and metrics. Metrics use CloudWatch Embedded Metric Format (Powertools Metrics): one JSON
 * line on stdout that CloudWatch turns into metrics, so no API call (and nothing to mock locally).
 */

/** Namespace of every wire-backup metric. */
export const metricNamespace = 'WireBackup';

/** Writes one structured log line. Never pass secrets. */
export function logEvent(
  level: 'info' | 'warn' | 'error',
  message: string,
  fields: Record<string, unknown> = {},
): void {
  const line = JSON.stringify({ level, message, time: new Date().toISOString(), ...fields });
  if (level === 'info') console.log(line);
  else console.error(line);
}

/** Powertools' `service` dimension of every wire-backup metric. */
export const metricService = 'wire-backup';

/** The dimensions of a cluster's metrics, as the functions emit them and the alarms read them. */
export function clusterDimensions(clusterName: string): Record<string, string> {
  return { service: metricService, Cluster: clusterName };
}

const units = {
  Count: MetricUnit.Count,
  Bytes: MetricUnit.Bytes,
  Seconds: MetricUnit.Seconds,
  None: MetricUnit.NoUnit,
} as const;

/**
 * Emits metrics of one cluster through Powertools Metrics: one EMF line written straight to stdout
 * (not through `console`, which Lambda's JSON log format wraps into a `message` field that CloudWatch
 * never reads as a metric), dimensions {@link clusterDimensions}.
 */
export function emitMetrics(
  metrics: Record<string, { value: number; unit: keyof typeof units }>,
  clusterName: string,
): void {
  const publisher = new Metrics({ namespace: metricNamespace, serviceName: metricService });
  publisher.addDimension('Cluster', clusterName);
  for (const [name, metric] of Object.entries(metrics))
    publisher.addMetric(name, units[metric.unit], metric.value);
  publisher.publishStoredMetrics();
}
