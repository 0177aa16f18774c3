/**
 * What the served devnet needs of a devnet beyond its public handle (the fault gate, the node), found by its
 * handle. A handle made elsewhere (a fake) has none, and the server then leaves the faults to its services.
 */
import type { FaultGate } from "./faults.js"
import type { Node } from "./node.js"
import type { DevnetHandle } from "./types.js"

export interface Internals {
  readonly node: Node
  readonly faults: FaultGate
}

const registry = new WeakMap<DevnetHandle, Internals>()

export const register = (handle: DevnetHandle, internals: Internals): void => {
  registry.set(handle, internals)
}

export const internalsOf = (handle: DevnetHandle): Internals | undefined => registry.get(handle)
