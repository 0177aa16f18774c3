/**
 * The devnet's construction, behind a dynamic import in `Devnet.make`: the chain, its node and its services are a
 * good part of the library's code, and importing the library (whose root re-exports `Devnet`) should not load them
 * for an application that never starts a devnet.
 */
import { Effect, type Scope } from "effect"
import type { Paymaster } from "../Paymaster.js"
import type { StarknetRpc } from "../StarknetRpc.js"
import * as Faults from "./faults.js"
import * as Handle from "./handle.js"
import * as Node from "./node.js"
import * as DevnetPaymaster from "./paymaster.js"
import { register } from "./registry.js"
import * as DevnetRpc from "./rpc.js"
import type { DevnetHandle, DevnetOptions } from "./types.js"

export const make = (options: DevnetOptions): Effect.Effect<
  { readonly handle: DevnetHandle; readonly rpc: StarknetRpc["Type"]; readonly paymaster: Paymaster["Type"] },
  never,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const faults = Faults.make(options.faults)
    const node = yield* Node.make(options, faults)
    const handle = Handle.make(node, faults, options)
    register(handle, { node, faults })
    return { handle, rpc: DevnetRpc.make(node, faults), paymaster: DevnetPaymaster.make(node, faults, options) }
  })
