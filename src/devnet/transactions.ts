/** The devnet's transactions: what they carry, their events and outcome, and their INVOKE v3 hash (SNIP-8). */
import type { OutsideCall } from "../OutsideExecution.js"
import { encodeShortString } from "../internal/felt.js"
import { poseidon } from "./blocks.js"

export interface ChainEvent {
  readonly fromAddress: bigint
  readonly keys: ReadonlyArray<bigint>
  readonly data: ReadonlyArray<bigint>
}

/** A resource's bound in an INVOKE v3: at most `maxAmount` units (u64) at `maxPricePerUnit` (u128) each. */
export interface ResourceBound {
  readonly maxAmount: bigint
  readonly maxPricePerUnit: bigint
}

/**
 * The fields of an INVOKE v3 beyond sender, calldata, nonce and signature, as SNIP-8 hashes them: resource bounds,
 * tip, paymaster data, account deployment data and the data-availability modes.
 */
export interface InvokeV3Fields {
  readonly resourceBounds: { readonly l1Gas: ResourceBound; readonly l2Gas: ResourceBound; readonly l1DataGas: ResourceBound }
  readonly tip: bigint
  readonly paymasterData: ReadonlyArray<bigint>
  readonly accountDeploymentData: ReadonlyArray<bigint>
  readonly nonceDataAvailabilityMode: "L1" | "L2"
  readonly feeDataAvailabilityMode: "L1" | "L2"
}

const ZERO_BOUND: ResourceBound = { maxAmount: 0n, maxPricePerUnit: 0n }
/** Zero bounds and tip, no paymaster or deployment data, L1 modes: what the devnet's relayer sends (gas is free). */
export const ZERO_FEE_FIELDS: InvokeV3Fields = {
  resourceBounds: { l1Gas: ZERO_BOUND, l2Gas: ZERO_BOUND, l1DataGas: ZERO_BOUND },
  tip: 0n,
  paymasterData: [],
  accountDeploymentData: [],
  nonceDataAvailabilityMode: "L1",
  feeDataAvailabilityMode: "L1"
}

export type TxPayload =
  | { readonly kind: "outside"; readonly relayer: bigint; readonly account: bigint; readonly calldata: ReadonlyArray<string> }
  | {
    readonly kind: "invoke"
    readonly account: bigint
    readonly calls: ReadonlyArray<OutsideCall>
    readonly signature: ReadonlyArray<bigint>
    readonly nonce: bigint
    readonly fields: InvokeV3Fields
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
const [L1_GAS, L2_GAS, L1_DATA] = ["L1_GAS", "L2_GAS", "L1_DATA"].map((name) => encodeShortString(name) << 192n) as [bigint, bigint, bigint]
const bound = (name: bigint, b: ResourceBound) => name | (b.maxAmount << 128n) | b.maxPricePerUnit
const daMode = (mode: "L1" | "L2") => (mode === "L1" ? 0n : 1n)
let zeroFeeHash: bigint | undefined
const feeHash = (f: InvokeV3Fields) =>
  poseidon([f.tip, bound(L1_GAS, f.resourceBounds.l1Gas), bound(L2_GAS, f.resourceBounds.l2Gas), bound(L1_DATA, f.resourceBounds.l1DataGas)])

/**
 * The INVOKE v3 transaction hash (SNIP-8): Poseidon of `"invoke"`, version 3, the sender, the hash of tip and
 * resource bounds, of the paymaster data, the chain id, the nonce, the data-availability modes
 * (`nonce_mode << 32 | fee_mode`), the hash of the account deployment data and of the calldata. What starknet.js
 * computes and what OpenZeppelin's account verifies an owner signature against.
 */
export const invokeV3Hash = (
  chainId: bigint,
  sender: bigint,
  nonce: bigint,
  calldata: ReadonlyArray<bigint>,
  fields: InvokeV3Fields = ZERO_FEE_FIELDS
): bigint =>
  poseidon([
    INVOKE_PREFIX,
    3n,
    sender,
    fields === ZERO_FEE_FIELDS ? (zeroFeeHash ??= feeHash(fields)) : feeHash(fields),
    poseidon(fields.paymasterData),
    chainId,
    nonce,
    (daMode(fields.nonceDataAvailabilityMode) << 32n) | daMode(fields.feeDataAvailabilityMode),
    poseidon(fields.accountDeploymentData),
    poseidon(calldata)
  ])
