import { types } from 'cassandra-driver';
import { deterministicBytes, Rng } from './prng.js';
import type { Range, SeedPlan } from './size-plan.js';

/**
 * Wire-shaped Cassandra rows, generated deterministically from a plan and a seed. Users, teams and
 * conversations are addressed by a namespace and an index (`seed` for the seeded state,
 * `mutate-<round>` for changes), so any row can be regenerated without the others.
 */

/** One row to insert into a seeded table (`keyspace.table`); unset columns stay unset. */
export interface RowWrite {
  readonly table: string;
  readonly values: Readonly<Record<string, unknown>>;
  /** Per-row TTL in seconds (tables written `USING TTL ?`). */
  readonly ttl?: number;
}

/** One counter row: its primary key and the value each counter column must end up with. */
export interface CounterWrite {
  readonly table: string;
  readonly key: Readonly<Record<string, unknown>>;
  readonly values: Readonly<Record<string, number>>;
}

/** Rows generated for one entity. */
export interface GeneratedRows {
  readonly rows: RowWrite[];
  readonly counters: CounterWrite[];
}

/** What identifies a generated user. */
export interface UserIdentity {
  readonly id: string;
  readonly namespace: string;
  readonly index: number;
  readonly teamIndex?: number;
  readonly teamId?: string;
  readonly name: string;
  readonly handle: string;
  readonly email: string;
  /** Signs in with SAML (the team has an IdP). */
  readonly sso: boolean;
  /** Provisioned by SCIM. */
  readonly scim: boolean;
}

/** Time every generated timestamp is relative to (not "now": the data must not depend on the clock). */
export const seedEpochMs = Date.UTC(2026, 0, 1);
const day = 86_400_000;

/** TTL Wire gives notifications (28 days). */
export const notificationTtlSeconds = 28 * 86_400;

const firstNames = [
  'Alice',
  'Bob',
  'Zoë',
  'José',
  'Ólafur',
  'Mei',
  'Aiko',
  'Søren',
  'Chloé',
  'Łukasz',
  'Ngozi',
  'Dmitri',
  'Fatima',
  'Tomás',
  'Ingrid',
  'Yusuf',
  'Анна',
  '李',
  'Priya',
  'Mateo',
  'Élodie',
  'Kwame',
  'Björn',
  'Noor',
];
const lastNames = [
  'Müller',
  'Smith',
  'García',
  "O'Brien",
  'Nakamura',
  'Kowalski',
  'Nguyen',
  'Dubois',
  'Rossi',
  'Öztürk',
  'Иванова',
  '王',
  'Andersen',
  'Silva',
  'Haddad',
  'Schmidt',
  'Okafor',
  'Fernández',
  'Virtanen',
  'Patel',
];
const deviceModels = [
  'iPhone 15',
  'Pixel 8',
  'MacBook Pro',
  'ThinkPad X1',
  'Galaxy S24',
  'iPad Air',
  'Firefox',
  'Chrome',
];
const conversationNames = [
  'Standup',
  'Projekt Ω',
  'Release 🚀',
  'Support',
  'Café talk',
  'Ops on-call',
  'Board',
  'Random',
];
const teamNames = [
  'Acme GmbH',
  'Société Générale de Test',
  'Wire Demo',
  'Örnek A.Ş.',
  'Example Corp',
  'ТестКом',
];

/** Team permission bitmasks (self, copy) as Wire's roles use them. */
const rolePermissions = {
  owner: { self: 8191, copy: 8191 },
  admin: { self: 5951, copy: 5951 },
  member: { self: 1587, copy: 1587 },
  partner: { self: 1025, copy: 1025 },
} as const;

function asciiSlug(text: string): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9]/g, '')
    .toLowerCase();
  return slug === '' ? 'u' : slug;
}

function base64Bytes(length: number, rng: Rng): string {
  return rng
    .bytes(Math.ceil((length * 3) / 4))
    .toString('base64')
    .slice(0, length);
}

function timeuuidAt(ms: number, rng: Rng): types.TimeUuid {
  return types.TimeUuid.fromDate(new Date(ms), rng.int(0, 9999), rng.bytes(6), rng.bytes(2));
}

/** A deterministic bigint (Wire cookie ids are random 64-bit values) as a driver Long. */
function randomLong(rng: Rng): types.Long {
  return types.Long.fromBits(rng.nextUint32() | 0, rng.nextUint32() | 0);
}

/** Approximate logical size of a row's values in bytes (what the size plan is measured in). */
export function rowBytes(values: Readonly<Record<string, unknown>>): number {
  let total = 0;
  const add = (value: unknown): void => {
    if (value === undefined || value === null) return;
    if (typeof value === 'string') total += /^[0-9a-f-]{36}$/.test(value) ? 16 : Buffer.byteLength(value);
    else if (Buffer.isBuffer(value)) total += value.length;
    else if (typeof value === 'number' || typeof value === 'boolean') total += 4;
    else if (value instanceof Date || value instanceof types.Long) total += 8;
    else if (value instanceof types.Uuid) total += 16;
    else if (Array.isArray(value)) for (const item of value) add(item);
    else if (typeof value === 'object') for (const item of Object.values(value)) add(item);
  };
  for (const [name, value] of Object.entries(values)) {
    total += name.length;
    add(value);
  }
  return total;
}

/** Generates Wire-shaped rows for one plan and seed. */
export class WireDataGenerator {
  /** Creates the generator; equal plan and seed give equal rows. */
  constructor(
    readonly plan: SeedPlan,
    readonly seed: number,
  ) {}

  /** Id of team `t` of the seeded state. */
  teamId(t: number): string {
    return new Rng(this.seed, 'seed', 'team-id', t).uuid();
  }

  /** Whether team `t` signs in with SAML (has an IdP in spar). */
  teamHasIdp(t: number): boolean {
    return t % 2 === 0;
  }

  /** Issuer of team `t`'s IdP. */
  idpIssuer(t: number): string {
    return `https://idp-${t}.example.com/saml2/metadata/${new Rng(this.seed, 'idp-issuer', t).hex(8)}`;
  }

  /** Index of the user who created team `t` (its first member). */
  teamCreatorIndex(t: number): number {
    for (let i = t; ; i += this.plan.teams) if (this.teamIndexOf('seed', i) === t) return i;
  }

  private teamIndexOf(namespace: string, index: number): number | undefined {
    if (namespace === 'seed') return index % 10 < 7 ? index % this.plan.teams : undefined;
    return index % 2 === 0 ? 0 : undefined;
  }

  /** Identity of user `index` of `namespace` (`seed` for the seeded users). */
  user(namespace: string, index: number): UserIdentity {
    const rng = new Rng(this.seed, namespace, 'user-identity', index);
    const id = rng.uuid();
    const first = rng.pick(firstNames);
    const last = rng.pick(lastNames);
    const teamIndex = this.teamIndexOf(namespace, index);
    const suffix = namespace === 'seed' ? `${index}` : `${namespace.replace(/[^a-z0-9]/g, '')}${index}`;
    const handle = `${asciiSlug(first)}.${asciiSlug(last)}.${suffix}`;
    const sso = teamIndex !== undefined && this.teamHasIdp(teamIndex) && index % 3 === 0;
    return {
      id,
      namespace,
      index,
      ...(teamIndex === undefined ? {} : { teamIndex, teamId: this.teamId(teamIndex) }),
      name: `${first} ${last}`,
      handle,
      email: `${handle}@example.com`,
      sso,
      scim: sso && index % 6 === 0,
    };
  }

  /** The rows of team `t`: `galley.team` and, for SSO teams, its `spar.idp`. */
  teamRows(t: number): GeneratedRows {
    const rng = new Rng(this.seed, 'seed', 'team', t);
    const team = this.teamId(t);
    const creator = this.user('seed', this.teamCreatorIndex(t));
    const rows: RowWrite[] = [
      {
        table: 'galley.team',
        values: {
          team,
          name: `${rng.pick(teamNames)} ${t}`,
          icon: rng.chance(0.5) ? 'default' : `3-1-${rng.uuid()}`,
          icon_key: rng.chance(0.5) ? undefined : `3-1-${rng.uuid()}`,
          binding: true,
          creator: creator.id,
          deleted: false,
          status: 0,
        },
      },
    ];
    if (this.teamHasIdp(t)) {
      rows.push({
        table: 'spar.idp',
        values: {
          idp: new Rng(this.seed, 'idp-id', t).uuid(),
          issuer: this.idpIssuer(t),
          request_uri: `https://idp-${t}.example.com/saml2/sso`,
          team,
          public_key: rng.bytes(294),
          extra_public_keys: rng.chance(0.5) ? [rng.bytes(294)] : undefined,
          old_issuers: rng.chance(0.5) ? [`https://old-idp-${t}.example.com/metadata`] : undefined,
          api_version: 2,
        },
      });
    }
    return { rows, counters: [] };
  }

  /**
   * Every row of one user: brig (user, keys, handle, clients, prekeys, properties, connections,
   * cookies, rate-limit counters, nonce), galley team membership, gundeck notifications and push
   * token, spar SSO and SCIM ids. `usersInNamespace` bounds connection targets.
   */
  userRows(namespace: string, index: number, usersInNamespace: number): GeneratedRows {
    const plan = this.plan;
    const rng = new Rng(this.seed, namespace, 'user', index);
    const who = this.user(namespace, index);
    const rows: RowWrite[] = [];
    const counters: CounterWrite[] = [];
    const created = seedEpochMs - rng.int(1, 700) * day;

    rows.push({
      table: 'brig.user',
      values: {
        id: who.id,
        name: who.name,
        email: who.email,
        handle: who.handle,
        sso_id: who.sso
          ? JSON.stringify({
              subject: who.email,
              tenant: who.teamIndex === undefined ? '' : this.idpIssuer(who.teamIndex),
            })
          : undefined,
        activated: true,
        searchable: rng.chance(0.8),
        status: rng.chance(0.05) ? 1 : 0,
        managed_by: who.scim ? 1 : 0,
        user_type: 0,
        supported_protocols: rng.pick([1, 1, 3]),
        team: who.teamId,
        password: who.sso ? undefined : Buffer.concat([Buffer.from('14|8|1|'), rng.bytes(64)]),
        assets: rng.chance(0.7)
          ? [
              { typ: 0, key: `3-2-${rng.uuid()}`, size: 0 },
              { typ: 0, key: `3-2-${rng.uuid()}`, size: 1 },
            ]
          : undefined,
        accent: rng.chance(0.3) ? [rng.next(), rng.next()] : undefined,
        accent_id: rng.int(0, 7),
        country: rng.pick(['DE', 'FR', 'US', 'CH', 'NG', 'JP']),
        language: rng.pick(['de', 'fr', 'en', 'ja']),
      },
    });
    rows.push({ table: 'brig.user_keys', values: { key: who.email, user: who.id } });
    rows.push({ table: 'brig.user_handle', values: { handle: who.handle, user: who.id } });

    const clientIds: string[] = [];
    const clientCount = rng.int(...plan.clientsPerUser);
    for (let c = 0; c < clientCount; c++) {
      const client = rng.hex(16);
      clientIds.push(client);
      const lastActive = created + rng.int(0, 600) * day;
      rows.push({
        table: 'brig.clients',
        values: {
          user: who.id,
          client,
          class: rng.int(0, 2),
          type: rng.chance(0.9) ? 0 : 1,
          label: rng.chance(0.8) ? `${who.name.split(' ')[0]}'s ${rng.pick(deviceModels)}` : undefined,
          model: rng.pick(deviceModels),
          cookie: rng.chance(0.5) ? `cookie-${rng.hex(12)}` : undefined,
          ip: rng.chance(0.7)
            ? `10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`
            : `2001:db8::${rng.hex(4)}:${rng.hex(4)}`,
          lat: rng.int(-90_000, 90_000) / 1000,
          lon: rng.int(-180_000, 180_000) / 1000,
          tstamp: new Date(created + c * 3_600_000),
          last_active: new Date(lastActive),
          capabilities: rng.pick([[1], [1, 2], undefined]),
        },
      });
      for (const key of [...Array.from({ length: plan.prekeysPerClient }, (_, k) => k), 65535]) {
        rows.push({
          table: 'brig.prekeys',
          values: { user: who.id, client, key, data: base64Bytes(112, rng) },
        });
      }
    }

    rows.push({
      table: 'brig.properties',
      values: {
        user: who.id,
        key: 'WEBAPP',
        value: Buffer.from(
          JSON.stringify({
            version: 1,
            settings: {
              privacy: { improve_wire: rng.chance(0.5), telemetry_sharing: rng.chance(0.3) },
              sound: { alerts: rng.int(0, 2) },
              emoji: { replace_inline: rng.chance(0.5) },
              interface: { theme: rng.pick(['default', 'dark']) },
            },
            recent: Array.from({ length: rng.int(4, 24) }, () => rng.uuid()),
          }),
        ),
      },
    });

    for (let k = 0; k < plan.connectionsPerUser; k++) {
      const other = index + 1 + k * 7 + rng.int(0, 3);
      if (other >= usersInNamespace) continue;
      rows.push(...this.connectionRows(namespace, index, other));
    }

    const cookieCount = rng.int(1, 2);
    for (let k = 0; k < cookieCount; k++) {
      const ttlDays = rng.int(14, 28);
      rows.push({
        table: 'brig.user_cookies',
        values: {
          user: who.id,
          expires: new Date(seedEpochMs + ttlDays * day + k * 1000),
          id: randomLong(rng),
          succ_id: rng.chance(0.2) ? randomLong(rng) : undefined,
          type: rng.int(0, 1),
          label: rng.chance(0.5) ? rng.pick(['web', 'desktop', 'ios', 'android']) : undefined,
        },
        ttl: ttlDays * 86_400,
      });
    }

    counters.push({
      table: 'brig.rate_limit_counter',
      key: { key: `login:${who.id}`, window: new Date(seedEpochMs + (index % 24) * 3_600_000) },
      values: { attempts: rng.int(1, 5), bytes: rng.int(100, 10_000) },
    });

    if (clientIds.length > 0) {
      rows.push({ table: 'brig.nonce', values: { user: who.id, key: clientIds[0], nonce: rng.uuid() } });
    }

    if (who.teamIndex !== undefined && who.teamId !== undefined) {
      const creatorIndex = namespace === 'seed' ? this.teamCreatorIndex(who.teamIndex) : -1;
      const isCreator = creatorIndex === index;
      const role = isCreator
        ? 'owner'
        : rng.pick(['admin', 'member', 'member', 'member', 'partner'] as const);
      rows.push({
        table: 'galley.team_member',
        values: {
          team: who.teamId,
          user: who.id,
          perms: {
            self: types.Long.fromNumber(rolePermissions[role].self),
            copy: types.Long.fromNumber(rolePermissions[role].copy),
          },
          invited_by: isCreator ? undefined : this.user('seed', this.teamCreatorIndex(who.teamIndex)).id,
          invited_at: isCreator ? undefined : new Date(created),
          legalhold_status: 0,
        },
      });
      if (who.sso) {
        rows.push({
          table: 'spar.user_v2',
          values: {
            issuer: this.idpIssuer(who.teamIndex),
            normalized_uname_id: who.email.toLowerCase(),
            uid: who.id,
            sso_id: JSON.stringify({ subject: who.email }),
          },
        });
      }
      if (who.scim) {
        rows.push({
          table: 'spar.scim_external',
          values: { team: who.teamId, external_id: who.email, user: who.id, creation_status: 0 },
        });
      }
    }

    rows.push(
      ...this.notificationRows(who.id, clientIds, rng.int(...plan.notificationsPerUser), namespace, index),
    );

    if (rng.chance(0.6) && clientIds.length > 0) {
      const transport = rng.int(0, 2);
      rows.push({
        table: 'gundeck.user_push',
        values: {
          usr: who.id,
          ptoken: rng.hex(64),
          app: transport === 0 ? 'com.wire' : 'com.wire.ent',
          transport,
          arn: `arn:aws:sns:eu-west-1:000000000000:endpoint/${transport === 0 ? 'GCM' : 'APNS'}/wire/${rng.uuid()}`,
          client: clientIds[0],
          connection: rng.bytes(16),
        },
      });
    }
    return { rows, counters };
  }

  /** Both directions of the connection between users `a` and `b` of `namespace` (same rows from either side). */
  connectionRows(namespace: string, a: number, b: number): RowWrite[] {
    const [low, high] = a < b ? [a, b] : [b, a];
    const rng = new Rng(this.seed, namespace, 'connection', low, high);
    const left = this.user(namespace, low).id;
    const right = this.user(namespace, high).id;
    const [statusLeft, statusRight] = rng.pick([
      [0, 0],
      [0, 0],
      [4, 2],
      [1, 0],
      [3, 4],
    ] as const);
    const conv = rng.uuid();
    const lastUpdate = new Date(seedEpochMs - rng.int(1, 400) * day);
    const message = rng.chance(0.5) ? 'Hi, let’s connect on Wire!' : undefined;
    return [
      {
        table: 'brig.connection',
        values: { left, right, conv, status: statusLeft, message, last_update: lastUpdate },
      },
      {
        table: 'brig.connection',
        values: { left: right, right: left, conv, status: statusRight, message, last_update: lastUpdate },
      },
    ];
  }

  /** `count` gundeck notifications for a user: JSON payload blobs with TTL, ids as timeuuids. */
  notificationRows(
    userId: string,
    clientIds: readonly string[],
    count: number,
    ...labels: (string | number)[]
  ): RowWrite[] {
    const rng = new Rng(this.seed, 'notifications', userId, ...labels);
    const rows: RowWrite[] = [];
    for (let k = 0; k < count; k++) {
      const at = seedEpochMs - rng.int(0, 27) * day + k * 60_000;
      const size = rng.int(...this.plan.notificationBytes);
      const head = JSON.stringify({
        type: 'conversation.otr-message-add',
        conversation: rng.uuid(),
        from: userId,
        data: { text: '' },
      });
      const cipher = deterministicBytes(
        Math.ceil((Math.max(0, size - head.length) * 3) / 4),
        'payload',
        userId,
        k,
        ...labels,
      )
        .toString('base64')
        .slice(0, Math.max(0, size - head.length));
      const payload = Buffer.from(head.replace('"text":""', `"text":"${cipher}"`));
      rows.push({
        table: 'gundeck.notifications',
        values: {
          user: userId,
          id: timeuuidAt(at, rng),
          payload,
          payload_ref: rng.chance(0.1) ? rng.uuid() : undefined,
          payload_ref_size: undefined,
          clients:
            clientIds.length > 0 && rng.chance(0.5)
              ? rng.sample(clientIds, rng.int(1, clientIds.length))
              : undefined,
        },
        ttl: notificationTtlSeconds,
      });
    }
    return rows;
  }

  /** Member user indexes (into `seed`) of seeded conversation `c`: distinct, creator first. */
  conversationMembers(c: number): number[] {
    const rng = new Rng(this.seed, 'seed', 'conversation-members', c);
    const want = Math.min(this.plan.users, rng.int(...this.plan.membersPerConversation));
    const members = new Set<number>();
    while (members.size < want) members.add(rng.int(0, this.plan.users - 1));
    return [...members];
  }

  /** Seeded conversation `c`: its `galley.conversation`, `member`, `user` and `team_conv` rows. */
  seededConversationRows(c: number): GeneratedRows {
    const members = this.conversationMembers(c).map((i) => this.user('seed', i));
    return { rows: this.conversationRows('seed', c, members), counters: [] };
  }

  /** Id of conversation `c` of `namespace`. */
  conversationId(namespace: string, c: number): string {
    return new Rng(this.seed, namespace, 'conversation', c).uuid();
  }

  /** A conversation of `namespace` with these members (the first is the creator). */
  conversationRows(
    namespace: string,
    c: number,
    members: readonly Pick<UserIdentity, 'id' | 'teamId'>[],
  ): RowWrite[] {
    const rng = new Rng(this.seed, namespace, 'conversation', c);
    const conv = rng.uuid();
    const creator = members[0];
    if (!creator) throw new Error('seed: a conversation needs at least one member');
    const mls = rng.chance(0.25);
    const rows: RowWrite[] = [
      {
        table: 'galley.conversation',
        values: {
          conv,
          type: 0,
          creator: creator.id,
          name: `${rng.pick(conversationNames)} #${c}`,
          team: creator.teamId,
          access: rng.pick([[1], [1, 2], [1, 2, 3]]),
          access_roles_v2: rng.pick([
            [1, 2],
            [1, 2, 3, 4],
          ]),
          receipt_mode: rng.int(0, 1),
          message_timer: rng.chance(0.2) ? types.Long.fromNumber(rng.pick([10_000, 86_400_000])) : undefined,
          protocol: mls ? 1 : 0,
          group_id: mls ? rng.bytes(32) : undefined,
          epoch: mls ? types.Long.fromNumber(rng.int(0, 500)) : undefined,
          cipher_suite: mls ? 1 : undefined,
          deleted: false,
        },
      },
    ];
    if (creator.teamId) rows.push({ table: 'galley.team_conv', values: { team: creator.teamId, conv } });
    for (const [position, member] of members.entries()) {
      rows.push(
        this.memberRow(conv, member.id, position === 0, new Rng(this.seed, namespace, 'member', c, position)),
      );
      rows.push({ table: 'galley.user', values: { user: member.id, conv } });
    }
    return rows;
  }

  /** The `galley.member` row of a user in a conversation. */
  memberRow(conv: string, userId: string, admin: boolean, rng: Rng): RowWrite {
    const archived = rng.chance(0.1);
    const muted = rng.pick([0, 0, 0, 1, 3]);
    return {
      table: 'galley.member',
      values: {
        conv,
        user: userId,
        conversation_role: admin ? 'wire_admin' : 'wire_member',
        hidden: false,
        otr_archived: archived,
        otr_archived_ref: archived ? `ref-${rng.hex(8)}` : undefined,
        otr_muted_status: muted,
        otr_muted_ref: muted === 0 ? undefined : `ref-${rng.hex(8)}`,
      },
    };
  }
}

/** Draws an integer from a plan range with `rng` (exported for the object plan). */
export function drawFromRange(rng: Rng, range: Range): number {
  return rng.int(range[0], range[1]);
}
