/** The devnet's transactions: what they carry, their events and outcome, and their INVOKE v3 hash (SNIP-8). */
import type { OutsideCall } from "../OutsideExecution.js"
import { encodeShortString } from "../internal/felt.js"
import { poseidon } from "./blocks.js"

export interface ChainEvent {
  readonly fromAddress: bigint
  readonly keys: ReadonlyArray<bigint>
  readonly data: ReadonlyArray<bigint>
}

export type TxPayload =
  | { readonly kind: "outside"; readonly relayer: bigint; readonly account: bigint; readonly calldata: ReadonlyArray<string> }
  | {
    readonly kind: "invoke"
    readonly account: bigint
    readonly calls: ReadonlyArray<OutsideCall>
    readonly signature: ReadonlyArray<bigint>
    readonly nonce: bigint
  }

export interface Tx {
  readonly hash: bigint
  readonly payload: TxPayload
  /** The account that sends the INVOKE transaction (the relayer for an outside execution). */
  readonly sender: bigint
  /** The sender's transaction nonce. */
  readonly nonce: bigint
  /** The INVOKE's calldata: what the sender's `__execute__` receives, a serialized `Array<Call>`. */
  readonly calldata: ReadonlyArray<bigint>
  /** The outside-execution nonce of a relayed transaction. */
  readonly outsideNonce?: bigint
  execution?: "SUCCEEDED" | "REVERTED"
  revertReason?: string
  /** Dropped at inclusion because its validation failed (the state moved since it was accepted). */
  rejected?: string
  events: Array<ChainEvent>
  blockNumber?: number
  holdUntil: number
}

const INVOKE_PREFIX = encodeShortString("invoke")
/** Resource names of an INVOKE v3's bounds, as SNIP-8 encodes them (`name << 192 | max_amount << 128 | max_price`). */
const RESOURCES = ["L1_GAS", "L2_GAS", "L1_DATA"].map((name) => encodeShortString(name) << 192n)
let constants: { readonly bounds: bigint; readonly empty: bigint } | undefined
const hashConstants = () => (constants ??= { bounds: poseidon([0n, ...RESOURCES]), empty: poseidon([]) })

/**
 * The INVOKE v3 transaction hash (SNIP-8) of a transaction with zero resource bounds, tip and paymaster data, L1
 * data-availability modes and no deployment data: the shape the devnet serves, so a client can recompute it.
 */
export const invokeV3Hash = (chainId: bigint, sender: bigint, nonce: bigint, calldata: ReadonlyArray<bigint>): bigint => {
  const { bounds, empty } = hashConstants()
  return poseidon([
    INVOKE_PREFIX,
    3n,
    sender,
    bounds,
    empty,
    chainId,
    nonce,
    0n,
    empty,
    poseidon(calldata)
  ])
}
