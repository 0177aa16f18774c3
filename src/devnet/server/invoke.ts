/**
 * `BROADCASTED_INVOKE_TXN` of spec 0.9 (`INVOKE_TXN_V3`, `@starknet-io/starknet-types-09` `api/components`), as
 * `starknet_addInvokeTransaction`, `starknet_estimateFee` and `starknet_simulateTransactions` receive it, and the
 * devnet's invoke it stands for.
 */
import { Schema } from "effect"
import { type OutsideCall, parseCallArray } from "../../OutsideExecution.js"
import { Address, Felt } from "../../Schemas.js"
import type { InvokeParams } from "../types.js"

const below = (bits: bigint, name: string) =>
  Felt.pipe(Schema.filter((v) => BigInt(v) < 1n << bits, { message: () => `a ${name}` }))
const U64 = below(64n, "u64")
const ResourceBounds = Schema.Struct({ max_amount: U64, max_price_per_unit: below(128n, "u128") })
const DaMode = Schema.Literal("L1", "L2")

/**
 * The version is read as a felt so that another one is error 61 (or 41 in a simulation), not -32602. Fields of
 * later specs (0.10's `proof_facts`) are not read.
 */
export const BroadcastedInvoke = Schema.Struct({
  type: Schema.Literal("INVOKE"),
  sender_address: Address,
  calldata: Schema.Array(Felt),
  version: Felt,
  signature: Schema.Array(Felt),
  nonce: Felt,
  resource_bounds: Schema.Struct({ l1_gas: ResourceBounds, l1_data_gas: ResourceBounds, l2_gas: ResourceBounds }),
  tip: U64,
  paymaster_data: Schema.Array(Felt),
  account_deployment_data: Schema.Array(Felt),
  nonce_data_availability_mode: DaMode,
  fee_data_availability_mode: DaMode
})
export type BroadcastedInvoke = typeof BroadcastedInvoke.Type

const bound = (b: typeof ResourceBounds.Type) => ({ maxAmount: BigInt(b.max_amount), maxPricePerUnit: BigInt(b.max_price_per_unit) })

/** The calls of an invoke's calldata (a serialized `Array<Call>`, nothing after it), or `undefined`. */
export const callsOf = (tx: BroadcastedInvoke): ReadonlyArray<OutsideCall> | undefined => {
  const parsed = parseCallArray(tx.calldata)
  return parsed === undefined || parsed.end !== tx.calldata.length ? undefined : parsed.calls
}

/** The devnet's invoke of a broadcasted one whose calls were read. */
export const invokeParams = (tx: BroadcastedInvoke, calls: ReadonlyArray<OutsideCall>): InvokeParams => ({
  account: tx.sender_address,
  calls,
  signature: tx.signature,
  nonce: BigInt(tx.nonce),
  resourceBounds: { l1Gas: bound(tx.resource_bounds.l1_gas), l2Gas: bound(tx.resource_bounds.l2_gas), l1DataGas: bound(tx.resource_bounds.l1_data_gas) },
  tip: BigInt(tx.tip),
  paymasterData: tx.paymaster_data,
  accountDeploymentData: tx.account_deployment_data,
  nonceDataAvailabilityMode: tx.nonce_data_availability_mode,
  feeDataAvailabilityMode: tx.fee_data_availability_mode
})
