/**
 * JSONPaths tied to types: `pathsOf<BackupState>()('plan', 'cassandra', 'nodes')` is
 * `'$.plan.cassandra.nodes'`, typed as a path to `PlannedNode[]`. Renaming a field of a schema makes
 * every state machine path that names it a compile error, and a path to a boolean cannot be passed
 * where a string is expected.
 */

declare const valueType: unique symbol;

/** A JSONPath string that points at a value of type `V`. */
export type TypedPath<V> = string & { readonly [valueType]: V };

type Depth = [never, 0, 1, 2, 3, 4, 5, 6];

/** Every key path into `T` (objects only; arrays end a path), up to a depth of seven. */
export type PathOf<T, D extends number = 7> = [D] extends [never]
  ? never
  : T extends readonly unknown[]
    ? never
    : T extends object
      ? { [K in keyof T & string]-?: [K] | [K, ...PathOf<NonNullable<T[K]>, Depth[D]>] }[keyof T & string]
      : never;

/** The type at key path `P` in `T` (null and undefined on the way are stepped over). */
export type ValueAt<T, P extends readonly string[]> = P extends readonly [
  infer K extends string,
  ...infer R extends string[],
]
  ? K extends keyof NonNullable<T>
    ? ValueAt<NonNullable<T>[K], R>
    : never
  : T;

/** Builds typed JSONPaths into a state of type `T`. */
export function pathsOf<T>() {
  return <const P extends PathOf<T>>(...keys: P): TypedPath<ValueAt<T, P>> =>
    `$.${keys.join('.')}` as TypedPath<ValueAt<T, P>>;
}

/** The item a Map state's iteration is on (`$$.Map.Item.Value`), typed as the list's element. */
export function mapItem<T>(): TypedPath<T> {
  return '$$.Map.Item.Value' as TypedPath<T>;
}

/** Builds typed paths to the fields of a Map state's item (`$$.Map.Item.Value.<field>`). */
export function mapItemFieldsOf<Item>() {
  return <const K extends keyof Item & string>(field: K): TypedPath<Item[K]> =>
    `$$.Map.Item.Value.${field}` as TypedPath<Item[K]>;
}

/**
 * A Map state's `itemSelector` (or a Pass state's `parameters`) built field by field from typed
 * paths: every field of `Target` must be given, each from a path to a value of its type.
 */
export function selectFields<Target>(
  fields: { readonly [K in keyof Target]-?: TypedPath<Target[K]> },
): Record<string, string> {
  return Object.fromEntries(Object.entries<string>(fields).map(([name, path]) => [`${name}.$`, path]));
}
