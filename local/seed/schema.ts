/**
 * The seeded Cassandra schema: a realistic subset of Wire's keyspaces (see WIRE-SCHEMA.md), with the
 * features a backup must keep: user-defined types (in a list and frozen), set/list columns, inet,
 * blobs, a secondary index, a table default TTL, per-row TTLs, a TWCS table with gc_grace 0, a
 * counter table, and the LCS/STCS/TWCS mix. Our own CQL, shaped like Wire's.
 */

/** The keyspaces the seeder owns, in creation order. */
export const seededKeyspaces = ['brig', 'galley', 'gundeck', 'spar'] as const;

/** One of {@link seededKeyspaces}. */
export type SeededKeyspace = (typeof seededKeyspaces)[number];

/** A seeded table: its columns (CQL types), key, options and how rows are written. */
export interface TableDef {
  readonly keyspace: SeededKeyspace;
  readonly name: string;
  /** Column name → CQL type, in declaration order. */
  readonly columns: Readonly<Record<string, string>>;
  readonly partitionKey: readonly string[];
  readonly clustering: readonly string[];
  /** The `WITH …` clause (compaction, compression, TTL, gc_grace, clustering order). */
  readonly options: string;
  /** Rows are written `USING TTL ?` (Wire sets the TTL on each write for these tables). */
  readonly perRowTtl?: boolean;
  /** All regular columns are counters: rows are written with `UPDATE … SET c = c + ?`. */
  readonly counter?: boolean;
  /** Secondary indexes: index name → column. */
  readonly indexes?: Readonly<Record<string, string>>;
}

const lz4 = "compression = {'class': 'LZ4Compressor', 'chunk_length_in_kb': '16'}";
const lcs = `compaction = {'class': 'LeveledCompactionStrategy'} AND ${lz4}`;
const stcs = `compaction = {'class': 'SizeTieredCompactionStrategy'} AND ${lz4}`;
const twcsDay = `compaction = {'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'DAYS', 'compaction_window_size': '1'} AND ${lz4}`;

/** The user-defined types, per keyspace, as `CREATE TYPE` bodies. */
export const seededTypes: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'brig.asset': { typ: 'int', key: 'text', size: 'int' },
  'galley.permissions': { self: 'bigint', copy: 'bigint' },
};

/** Every seeded table (21), keyspace by keyspace. */
export const seededTables: readonly TableDef[] = [
  {
    keyspace: 'brig',
    name: 'user',
    columns: {
      id: 'uuid',
      name: 'text',
      email: 'text',
      handle: 'text',
      sso_id: 'text',
      activated: 'boolean',
      searchable: 'boolean',
      status: 'int',
      managed_by: 'int',
      user_type: 'int',
      supported_protocols: 'int',
      team: 'uuid',
      provider: 'uuid',
      service: 'uuid',
      password: 'blob',
      assets: 'list<frozen<asset>>',
      accent: 'list<float>',
      accent_id: 'int',
      country: 'ascii',
      language: 'ascii',
    },
    partitionKey: ['id'],
    clustering: [],
    options: lcs,
  },
  {
    keyspace: 'brig',
    name: 'user_keys',
    columns: { key: 'text', user: 'uuid' },
    partitionKey: ['key'],
    clustering: [],
    options: lcs,
  },
  {
    keyspace: 'brig',
    name: 'user_handle',
    columns: { handle: 'text', user: 'uuid' },
    partitionKey: ['handle'],
    clustering: [],
    options: lcs,
  },
  {
    keyspace: 'brig',
    name: 'clients',
    columns: {
      user: 'uuid',
      client: 'text',
      class: 'int',
      type: 'int',
      label: 'text',
      model: 'text',
      cookie: 'text',
      ip: 'inet',
      lat: 'double',
      lon: 'double',
      tstamp: 'timestamp',
      last_active: 'timestamp',
      capabilities: 'set<int>',
    },
    partitionKey: ['user'],
    clustering: ['client'],
    options: lcs,
  },
  {
    keyspace: 'brig',
    name: 'prekeys',
    columns: { user: 'uuid', client: 'text', key: 'int', data: 'text' },
    partitionKey: ['user'],
    clustering: ['client', 'key'],
    options: lcs,
  },
  {
    keyspace: 'brig',
    name: 'properties',
    columns: { user: 'uuid', key: 'ascii', value: 'blob' },
    partitionKey: ['user'],
    clustering: ['key'],
    options: stcs,
  },
  {
    keyspace: 'brig',
    name: 'connection',
    columns: {
      left: 'uuid',
      right: 'uuid',
      conv: 'uuid',
      status: 'int',
      message: 'text',
      last_update: 'timestamp',
    },
    partitionKey: ['left'],
    clustering: ['right'],
    options: lcs,
    indexes: { conn_status: 'status' },
  },
  {
    keyspace: 'brig',
    name: 'user_cookies',
    columns: {
      user: 'uuid',
      expires: 'timestamp',
      id: 'bigint',
      succ_id: 'bigint',
      type: 'int',
      label: 'text',
    },
    partitionKey: ['user'],
    clustering: ['expires', 'id'],
    options: lcs,
    perRowTtl: true,
  },
  {
    // Wire has no counter table (its `budget` uses an int); the product must still handle counters.
    keyspace: 'brig',
    name: 'rate_limit_counter',
    columns: { key: 'text', window: 'timestamp', attempts: 'counter', bytes: 'counter' },
    partitionKey: ['key'],
    clustering: ['window'],
    options: stcs,
    counter: true,
  },
  {
    keyspace: 'brig',
    name: 'nonce',
    columns: { user: 'uuid', key: 'text', nonce: 'uuid' },
    partitionKey: ['user'],
    clustering: ['key'],
    options: `${lcs} AND default_time_to_live = 300`,
  },
  {
    keyspace: 'galley',
    name: 'team',
    columns: {
      team: 'uuid',
      name: 'text',
      icon: 'text',
      icon_key: 'text',
      binding: 'boolean',
      creator: 'uuid',
      deleted: 'boolean',
      status: 'int',
    },
    partitionKey: ['team'],
    clustering: [],
    options: lcs,
  },
  {
    keyspace: 'galley',
    name: 'team_member',
    columns: {
      team: 'uuid',
      user: 'uuid',
      perms: 'frozen<permissions>',
      invited_by: 'uuid',
      invited_at: 'timestamp',
      legalhold_status: 'int',
    },
    partitionKey: ['team'],
    clustering: ['user'],
    options: lcs,
  },
  {
    keyspace: 'galley',
    name: 'team_conv',
    columns: { team: 'uuid', conv: 'uuid' },
    partitionKey: ['team'],
    clustering: ['conv'],
    options: `${lcs} AND gc_grace_seconds = 86400`,
  },
  {
    keyspace: 'galley',
    name: 'conversation',
    columns: {
      conv: 'uuid',
      type: 'int',
      creator: 'uuid',
      name: 'text',
      team: 'uuid',
      access: 'set<int>',
      access_roles_v2: 'set<int>',
      receipt_mode: 'int',
      message_timer: 'bigint',
      protocol: 'int',
      group_id: 'blob',
      epoch: 'bigint',
      cipher_suite: 'int',
      parent_conv: 'uuid',
      deleted: 'boolean',
    },
    partitionKey: ['conv'],
    clustering: [],
    options: `${lcs} AND gc_grace_seconds = 86400`,
  },
  {
    keyspace: 'galley',
    name: 'member',
    columns: {
      conv: 'uuid',
      user: 'uuid',
      conversation_role: 'text',
      hidden: 'boolean',
      hidden_ref: 'text',
      otr_archived: 'boolean',
      otr_archived_ref: 'text',
      otr_muted_status: 'int',
      otr_muted_ref: 'text',
      service: 'uuid',
      provider: 'uuid',
    },
    partitionKey: ['conv'],
    clustering: ['user'],
    options: `${lcs} AND gc_grace_seconds = 86400`,
  },
  {
    keyspace: 'galley',
    name: 'user',
    columns: { user: 'uuid', conv: 'uuid' },
    partitionKey: ['user'],
    clustering: ['conv'],
    options: `${lcs} AND gc_grace_seconds = 86400`,
  },
  {
    keyspace: 'gundeck',
    name: 'notifications',
    columns: {
      user: 'uuid',
      id: 'timeuuid',
      payload: 'blob',
      payload_ref: 'uuid',
      payload_ref_size: 'int',
      clients: 'set<text>',
    },
    partitionKey: ['user'],
    clustering: ['id'],
    options: `CLUSTERING ORDER BY (id ASC) AND ${twcsDay} AND gc_grace_seconds = 0`,
    perRowTtl: true,
  },
  {
    keyspace: 'gundeck',
    name: 'user_push',
    columns: {
      usr: 'uuid',
      ptoken: 'text',
      app: 'text',
      transport: 'int',
      arn: 'text',
      client: 'text',
      connection: 'blob',
    },
    partitionKey: ['usr'],
    clustering: ['ptoken', 'app', 'transport'],
    options: lcs,
  },
  {
    keyspace: 'spar',
    name: 'idp',
    columns: {
      idp: 'uuid',
      issuer: 'text',
      request_uri: 'text',
      team: 'uuid',
      public_key: 'blob',
      extra_public_keys: 'list<blob>',
      old_issuers: 'list<text>',
      replaced_by: 'uuid',
      api_version: 'int',
    },
    partitionKey: ['idp'],
    clustering: [],
    options: lcs,
  },
  {
    keyspace: 'spar',
    name: 'user_v2',
    columns: { issuer: 'text', normalized_uname_id: 'text', uid: 'uuid', sso_id: 'text' },
    partitionKey: ['issuer'],
    clustering: ['normalized_uname_id'],
    options: lcs,
  },
  {
    keyspace: 'spar',
    name: 'scim_external',
    columns: { team: 'uuid', external_id: 'text', user: 'uuid', creation_status: 'int' },
    partitionKey: ['team'],
    clustering: ['external_id'],
    options: lcs,
  },
];

/** Qualified name `keyspace.table` of a table definition. */
export function qualifiedName(table: Pick<TableDef, 'keyspace' | 'name'>): string {
  return `${table.keyspace}.${table.name}`;
}

/** Looks up a seeded table by `keyspace.table`; throws on an unknown name (a bug in the seeder). */
export function tableDef(qualified: string): TableDef {
  const table = seededTables.find((t) => qualifiedName(t) === qualified);
  if (!table) throw new Error(`seed: no seeded table ${qualified}`);
  return table;
}

/** Quotes a CQL identifier (`user`, `key`, `type` and friends are keywords). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Replication factor the seeder uses: min(3, number of nodes). */
export function replicationFactor(nodeCount: number): number {
  return Math.max(1, Math.min(3, nodeCount));
}

/** The DDL that creates the seeded schema (idempotent: `IF NOT EXISTS` throughout). */
export function schemaStatements(nodeCount: number): string[] {
  const rf = replicationFactor(nodeCount);
  const statements: string[] = [];
  for (const keyspace of seededKeyspaces) {
    statements.push(
      `CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': ${rf}} AND durable_writes = true`,
    );
    for (const [qualified, fields] of Object.entries(seededTypes)) {
      if (!qualified.startsWith(`${keyspace}.`)) continue;
      const body = Object.entries(fields)
        .map(([field, type]) => `${quoteIdent(field)} ${type}`)
        .join(', ');
      statements.push(`CREATE TYPE IF NOT EXISTS ${qualified} (${body})`);
    }
    for (const table of seededTables.filter((t) => t.keyspace === keyspace)) {
      const columns = Object.entries(table.columns).map(([name, type]) => `${quoteIdent(name)} ${type}`);
      const partition = `(${table.partitionKey.map(quoteIdent).join(', ')})`;
      const key = [partition, ...table.clustering.map(quoteIdent)].join(', ');
      statements.push(
        `CREATE TABLE IF NOT EXISTS ${keyspace}.${quoteIdent(table.name)} (${columns.join(', ')}, PRIMARY KEY (${key})) WITH ${table.options}`,
      );
      for (const [index, column] of Object.entries(table.indexes ?? {})) {
        statements.push(
          `CREATE INDEX IF NOT EXISTS ${index} ON ${keyspace}.${quoteIdent(table.name)} (${quoteIdent(column)})`,
        );
      }
    }
  }
  return statements;
}

/** The prepared statement that writes one row of `table` (all columns; unset ones stay unset). */
export function insertStatement(table: TableDef): string {
  if (table.counter) {
    const keys = [...table.partitionKey, ...table.clustering];
    const counters = Object.keys(table.columns).filter((c) => !keys.includes(c));
    const sets = counters.map((c) => `${quoteIdent(c)} = ${quoteIdent(c)} + ?`).join(', ');
    const where = keys.map((c) => `${quoteIdent(c)} = ?`).join(' AND ');
    return `UPDATE ${table.keyspace}.${quoteIdent(table.name)} SET ${sets} WHERE ${where}`;
  }
  const names = Object.keys(table.columns);
  const ttl = table.perRowTtl ? ' USING TTL ?' : '';
  return `INSERT INTO ${table.keyspace}.${quoteIdent(table.name)} (${names.map(quoteIdent).join(', ')}) VALUES (${names.map(() => '?').join(', ')})${ttl}`;
}
