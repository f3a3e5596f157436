/**
 * Structured logs and metrics. Metrics use CloudWatch Embedded Metric Format: one JSON log line that
 * CloudWatch turns into metrics, so no API call (and nothing to mock locally).
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

/** Emits metrics (unit per metric) with dimensions, as an EMF log line. */
export function emitMetrics(
  metrics: Record<string, { value: number; unit: 'Count' | 'Bytes' | 'Seconds' | 'None' }>,
  dimensions: Record<string, string>,
): void {
  const emf = {
    _aws: {
      Timestamp: Date.now(),
      CloudWatchMetrics: [
        {
          Namespace: metricNamespace,
          Dimensions: [Object.keys(dimensions)],
          Metrics: Object.entries(metrics).map(([Name, m]) => ({ Name, Unit: m.unit })),
        },
      ],
    },
    ...dimensions,
    ...Object.fromEntries(Object.entries(metrics).map(([name, m]) => [name, m.value])),
  };
  console.log(JSON.stringify(emf));
}
