import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { StackInfo, StackPostgresServer } from '../stack-info.js';

/**
 * Wire-shaped seed data in PostgreSQL: the galley tables Wire keeps in its `wire-server` database
 * from 5.24 on (conversations, their members local and remote, conversation codes, team features,
 * subconversations, domain registrations), shaped after Wire's schema (uuid keys, int enums,
 * int arrays for access roles, bytea group ids, jsonb feature configs) and written in our own words.
 *
 * Everything runs through `psql` as the `wire-server` owner over TCP; the password travels in the
 * environment (PGPASSWORD), never on a command line.
 */

/** The tables the seed creates, in creation order. */
export const postgresSeedTables = [
  'conversation',
  'conversation_member',
  'local_conversation_remote_member',
  'conversation_codes',
  'subconversation',
  'team_features',
  'domain_registration',
] as const;

/** The galley tables' DDL (`CREATE TABLE IF NOT EXISTS`), also used by the PostgreSQL benchmark. */
export const postgresSchemaSql = `
CREATE TABLE IF NOT EXISTS conversation (
  id uuid PRIMARY KEY, type integer NOT NULL, name text, creator uuid, team uuid,
  access integer[], access_roles_v2 integer[], protocol integer, receipt_mode integer,
  message_timer bigint, cipher_suite integer, epoch bigint, epoch_timestamp timestamptz,
  group_id bytea, parent_conv uuid);
CREATE TABLE IF NOT EXISTS conversation_member (
  conv uuid NOT NULL, "user" uuid NOT NULL, conversation_role text, hidden boolean,
  otr_archived boolean, otr_muted_status integer, service uuid, PRIMARY KEY (conv, "user"));
CREATE TABLE IF NOT EXISTS local_conversation_remote_member (
  conv uuid NOT NULL, user_remote_domain text NOT NULL, user_remote_id uuid NOT NULL,
  conversation_role text, PRIMARY KEY (conv, user_remote_domain, user_remote_id));
CREATE TABLE IF NOT EXISTS conversation_codes (
  key text PRIMARY KEY, conversation uuid NOT NULL, value text NOT NULL, password bytea,
  expires_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS subconversation (
  conv_id uuid NOT NULL, subconv_id text NOT NULL, cipher_suite integer, epoch bigint NOT NULL,
  epoch_timestamp timestamptz NOT NULL, group_id bytea NOT NULL, PRIMARY KEY (conv_id, subconv_id));
CREATE TABLE IF NOT EXISTS team_features (
  team uuid NOT NULL, feature text NOT NULL, status integer, lock_status integer, config jsonb,
  PRIMARY KEY (team, feature));
CREATE TABLE IF NOT EXISTS domain_registration (
  domain text PRIMARY KEY, team uuid, domain_redirect integer, team_invite integer,
  backend_url bytea, dns_verification_token text);
`;

/** A deterministic uuid from labels. */
function uuidOf(...labels: (string | number)[]): string {
  const h = createHash('sha256').update(labels.join('\0')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
const q = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** Runs SQL through psql against `server` as the database owner; returns stdout. */
export function runPsql(
  stack: StackInfo,
  sql: string,
  options: { server?: StackPostgresServer; database?: string; user?: string; password?: string } = {},
): string {
  const pg = stack.postgresql;
  const server = options.server ?? pg.primary;
  const out = spawnSync(
    join(pg.clientBinDir, 'psql'),
    ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', server.host, '-p', String(server.port)],
    {
      input: sql,
      encoding: 'utf8',
      maxBuffer: 256 * 2 ** 20,
      env: {
        ...process.env,
        PGUSER: options.user ?? pg.owner,
        PGPASSWORD: options.password ?? pg.ownerPassword,
        PGDATABASE: options.database ?? pg.database,
        PGCONNECT_TIMEOUT: '10',
      },
    },
  );
  if (out.status !== 0) {
    throw new Error(`psql on ${server.name} (${server.host}:${server.port}) failed: ${out.stderr.trim()}`);
  }
  return out.stdout;
}

/** What {@link seedPostgres} wrote. */
export interface PostgresSeedSummary {
  readonly conversations: number;
  readonly rows: Readonly<Record<string, number>>;
}

/**
 * Creates the galley tables (if missing) and inserts `conversations` conversations with their
 * members, remote members, codes and subconversations, plus team features and domain registrations.
 * Row keys derive from `seed` and `batch`, so a second batch adds rows instead of colliding.
 */
export function seedPostgres(
  stack: StackInfo,
  options: { conversations?: number; seed?: number; batch?: string } = {},
): PostgresSeedSummary {
  const n = options.conversations ?? 200;
  const seed = options.seed ?? 42;
  const batch = options.batch ?? 'b0';
  const teams = Array.from({ length: Math.max(1, Math.ceil(n / 50)) }, (_, i) =>
    uuidOf(seed, batch, 'team', i),
  );
  const lines: string[] = [postgresSchemaSql, 'BEGIN;'];
  const rows: Record<string, number> = Object.fromEntries(postgresSeedTables.map((t) => [t, 0]));
  const add = (table: string, values: string): void => {
    lines.push(`INSERT INTO ${table} VALUES (${values}) ON CONFLICT DO NOTHING;`);
    rows[table] = (rows[table] ?? 0) + 1;
  };
  for (let i = 0; i < n; i++) {
    const conv = uuidOf(seed, batch, 'conv', i);
    const team = teams[i % teams.length] as string;
    const creator = uuidOf(seed, batch, 'user', i % 97);
    const mls = i % 3 === 0;
    add(
      'conversation',
      `${q(conv)}, ${i % 4}, ${q(`Conversation ${batch}-${i} ✓`)}, ${q(creator)}, ${q(team)}, '{1,2}', '{0,1,2}', ${mls ? 2 : 0}, ${i % 2}, ${i % 5 === 0 ? 86400000 : 'NULL'}, ${mls ? 1 : 'NULL'}, ${mls ? i : 'NULL'}, ${mls ? `'2026-11-0${(i % 9) + 1}T10:00:00Z'` : 'NULL'}, ${mls ? `'\\x${createHash('sha256').update(conv).digest('hex')}'` : 'NULL'}, NULL`,
    );
    for (let m = 0; m < 2 + (i % 4); m++) {
      add(
        'conversation_member',
        `${q(conv)}, ${q(uuidOf(seed, batch, 'user', (i + m) % 97))}, ${q(m === 0 ? 'wire_admin' : 'wire_member')}, ${m === 3}, false, ${m % 2}, NULL`,
      );
    }
    if (i % 7 === 0) {
      add(
        'local_conversation_remote_member',
        `${q(conv)}, 'remote.example.com', ${q(uuidOf(seed, batch, 'remote', i))}, 'wire_member'`,
      );
    }
    if (i % 5 === 0) {
      add(
        'conversation_codes',
        `${q(`${batch}-code-${i}`)}, ${q(conv)}, ${q(uuidOf(seed, 'code', batch, i).slice(0, 20))}, NULL, '2027-01-01T00:00:00Z'`,
      );
    }
    if (mls && i % 2 === 0) {
      add(
        'subconversation',
        `${q(conv)}, 'conference', 1, ${i}, '2026-11-20T12:00:00Z', '\\x${createHash('sha256').update(`sub${conv}`).digest('hex')}'`,
      );
    }
  }
  for (const [t, team] of teams.entries()) {
    for (const feature of ['legalhold', 'sso', 'fileSharing', 'mls', 'conversationGuestLinks']) {
      add(
        'team_features',
        `${q(team)}, ${q(feature)}, ${t % 2}, 0, ${q(JSON.stringify({ enforced: t % 2 === 0, feature }))}`,
      );
    }
    add(
      'domain_registration',
      `${q(`team${t}.${batch}.example.com`)}, ${q(team)}, 1, 2, NULL, ${q(uuidOf('dns', batch, t))}`,
    );
  }
  lines.push('COMMIT;');
  runPsql(stack, lines.join('\n'));
  return { conversations: n, rows };
}

/** Row count of every seeded table that exists. */
export function postgresRowCounts(stack: StackInfo, server?: StackPostgresServer): Record<string, number> {
  const out = runPsql(
    stack,
    `SELECT format('%s.%s', schemaname, relname) FROM pg_stat_user_tables ORDER BY 1;`,
    server ? { server } : {},
  );
  const tables = out.split('\n').filter(Boolean);
  if (tables.length === 0) return {};
  const counts = runPsql(
    stack,
    tables.map((t) => `SELECT '${t}', count(*) FROM ${t};`).join('\n'),
    server ? { server } : {},
  );
  return Object.fromEntries(
    counts
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [t, c] = l.split('|');
        return [t as string, Number(c)];
      }),
  );
}

/**
 * Every row of every user table, as one digest per table (rows as text, sorted): what the drill
 * compares before the disaster and after the restore.
 */
export function postgresTableDigests(stack: StackInfo, server?: StackPostgresServer): Record<string, string> {
  const tables = Object.keys(postgresRowCounts(stack, server));
  if (tables.length === 0) return {};
  const out = runPsql(
    stack,
    tables
      .map(
        (t) =>
          `SELECT '${t}', count(*) || ':' || coalesce(md5(string_agg(r::text, E'\\n' ORDER BY r::text)), '') FROM ${t} r;`,
      )
      .join('\n'),
    server ? { server } : {},
  );
  return Object.fromEntries(
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [t, d] = l.split('|');
        return [t as string, d as string];
      }),
  );
}
