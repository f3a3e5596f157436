/**
 * Amazon States Language shapes the local runner reads, and walkers over a definition that reach
 * every state, including those nested in Parallel branches and Map item processors.
 */

/** A JSON value (what state machines pass between states). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** One state of a definition, kept loose: the runner reads only the fields it needs. */
export interface AslState {
  readonly Type: string;
  readonly [field: string]: unknown;
}

/** A state machine definition (or a Parallel branch, or a Map item processor). */
export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, AslState>>;
  readonly [field: string]: unknown;
}

/** Where a state sits: its name and the chain of enclosing Parallel/Map states. */
export interface StateLocation {
  readonly name: string;
  readonly state: AslState;
  /** Enclosing states, outermost first (e.g. `['Back Up', 'Copy Objects']`). */
  readonly parents: readonly string[];
}

/** Resource of the Step Functions optimized Lambda integration. */
export const lambdaInvokeResource = 'arn:aws:states:::lambda:invoke';

/** True when `value` is a plain JSON object. */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The nested definitions of a state: Parallel branches, or a Map's item processor. */
export function childDefinitions(state: AslState): AslDefinition[] {
  if (state.Type === 'Parallel' && Array.isArray(state.Branches)) return state.Branches as AslDefinition[];
  if (state.Type === 'Map') {
    const processor = (state.ItemProcessor ?? state.Iterator) as AslDefinition | undefined;
    return processor ? [processor] : [];
  }
  return [];
}

/** Lists every state of `definition`, depth first, nested ones after their parent. */
export function listStates(definition: AslDefinition, parents: readonly string[] = []): StateLocation[] {
  const found: StateLocation[] = [];
  for (const [name, state] of Object.entries(definition.States)) {
    found.push({ name, state, parents });
    for (const child of childDefinitions(state)) found.push(...listStates(child, [...parents, name]));
  }
  return found;
}

/** True for a Map state whose item processor runs in DISTRIBUTED mode. */
export function isDistributedMap(state: AslState): boolean {
  if (state.Type !== 'Map') return false;
  const processor = state.ItemProcessor as { ProcessorConfig?: { Mode?: string } } | undefined;
  return processor?.ProcessorConfig?.Mode === 'DISTRIBUTED';
}

/**
 * Returns a copy of `definition` where `replace` may swap any state (nested ones included). The
 * replacement's own nested definitions are not walked again.
 */
export function mapStates(
  definition: AslDefinition,
  replace: (name: string, state: AslState) => AslState,
): AslDefinition {
  const states: Record<string, AslState> = {};
  for (const [name, state] of Object.entries(definition.States)) {
    let copy: AslState = state;
    if (state.Type === 'Parallel' && Array.isArray(state.Branches)) {
      copy = {
        ...state,
        Branches: (state.Branches as AslDefinition[]).map((branch) => mapStates(branch, replace)),
      };
    } else if (state.Type === 'Map') {
      if (state.ItemProcessor)
        copy = { ...state, ItemProcessor: mapStates(state.ItemProcessor as AslDefinition, replace) };
      else if (state.Iterator)
        copy = { ...state, Iterator: mapStates(state.Iterator as AslDefinition, replace) };
    }
    states[name] = replace(name, copy);
  }
  return { ...definition, States: states };
}

/** Size in bytes of a JSON value as Step Functions counts payloads (UTF-8 of its serialization). */
export function jsonByteLength(value: JsonValue): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/** The Step Functions limit on a state's input or output and on an execution's input: 256 KiB. */
export const maxPayloadBytes = 256 * 1024;
