/**
 * The embedded devnet: an in-memory Starknet that enforces the session-account rules exactly (every hash
 * computed, every signature verified), behind the `StarknetRpc` and `Paymaster` services. Block time comes from
 * Effect's `Clock`, so `TestClock` drives it in tests and real time drives it in an application.
 *
 * Serving it over HTTP is the job of `starknet-session-keys/devnet/server`, so that this module loads no server.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, type Scope } from "effect"
import { Devnet, type DevnetHandle, type DevnetOptions } from "./devnet/types.js"
import { Paymaster } from "./Paymaster.js"
import { StarknetRpc } from "./StarknetRpc.js"

export type {
  /** @since 0.1.0 */
  BlockId,
  /** @since 0.1.0 */
  CreateWalletParams,
  /** @since 0.1.0 */
  DevnetBlock,
  /** @since 0.1.0 */
  DevnetHandle,
  /** @since 0.1.0 */
  DevnetOptions,
  /** @since 0.1.0 */
  Faults,
  /** @since 0.1.0 */
  InvokeParams
} from "./devnet/types.js"

export { Devnet } from "./devnet/types.js"

/**
 * Creates a devnet in the current scope: its services and its control handle.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: DevnetOptions = {}): Effect.Effect<
  { readonly handle: DevnetHandle; readonly rpc: StarknetRpc["Type"]; readonly paymaster: Paymaster["Type"] },
  never,
  Scope.Scope
> =>
  // The chain and its services are imported when a devnet is first made, not when the library is.
  Effect.flatMap(Effect.promise(() => import("./devnet/make.js")), (engine) => engine.make(options))

/**
 * The devnet as a layer: `StarknetRpc`, `Paymaster` and the `Devnet` control handle, created in the layer's scope.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: DevnetOptions = {}): Layer.Layer<Devnet | StarknetRpc | Paymaster> =>
  Layer.scopedContext(
    Effect.map(make(options), ({ handle, paymaster, rpc }) =>
      Context.make(Devnet, handle).pipe(Context.add(StarknetRpc, rpc), Context.add(Paymaster, paymaster)))
  )

