/**
 * The `starknet_*` reads the served devnet answers from its node directly (blocks by any `block_id`), in RPC 0.9
 * shapes (`@starknet-io/starknet-types-09`, `api/components`).
 */
import { Effect, Schema } from "effect"
import type { Node } from "../node.js"
import type { BlockId as DevnetBlockId, DevnetBlock } from "../types.js"
import { Felt } from "../../Schemas.js"
import { method, type Methods, WireError } from "./jsonrpc.js"

/** RPC 0.9 `BLOCK_ID`: a tag, a number or a hash (`pending` read as `pre_confirmed`, as older clients send it). */
export const BlockId = Schema.Union(
  Schema.Literal("latest", "l1_accepted", "pre_confirmed", "pending"),
  Schema.Struct({ block_number: Schema.Int.pipe(Schema.nonNegative()) }),
  Schema.Struct({ block_hash: Felt })
)
const blockId = Schema.optionalWith(BlockId, { default: () => "latest" as const })

export const toBlockId = (id: typeof BlockId.Type): DevnetBlockId =>
  typeof id === "string"
    ? id === "pending" ? "pre_confirmed" : id
    : "block_number" in id
    ? { blockNumber: id.block_number }
    : { blockHash: id.block_hash }

export const blockNotFound = new WireError(24, "Block not found")

/** `BLOCK_HEADER` and `status`; the devnet charges no gas, so every price is zero. */
export const blockHeader = (b: DevnetBlock) => ({
  status: b.status,
  block_hash: b.blockHash,
  parent_hash: b.parentHash,
  block_number: b.blockNumber,
  new_root: "0x0",
  timestamp: b.timestamp,
  sequencer_address: "0x0",
  l1_gas_price: { price_in_fri: "0x0", price_in_wei: "0x0" },
  l2_gas_price: { price_in_fri: "0x0", price_in_wei: "0x0" },
  l1_data_gas_price: { price_in_fri: "0x0", price_in_wei: "0x0" },
  l1_da_mode: "BLOB",
  starknet_version: "0.14.0"
})

/** `INVOKE_TXN_V3` with its hash: the zero bounds, tip and L1 modes its hash was computed with. */
export const invokeTxn = (t: DevnetBlock["transactions"][number]) => ({
  transaction_hash: t.transactionHash,
  type: "INVOKE",
  version: "0x3",
  sender_address: t.senderAddress,
  calldata: t.calldata,
  signature: t.signature,
  nonce: t.nonce,
  resource_bounds: {
    l1_gas: { max_amount: "0x0", max_price_per_unit: "0x0" },
    l2_gas: { max_amount: "0x0", max_price_per_unit: "0x0" },
    l1_data_gas: { max_amount: "0x0", max_price_per_unit: "0x0" }
  },
  tip: "0x0",
  paymaster_data: [],
  account_deployment_data: [],
  nonce_data_availability_mode: "L1",
  fee_data_availability_mode: "L1"
})

export const chainMethods = (node: Node): Methods => {
  const block = (id: typeof BlockId.Type) =>
    Effect.suspend(() => {
      const b = node.block(toBlockId(id))
      return b === undefined ? Effect.fail(blockNotFound) : Effect.succeed(b)
    })
  return {
    starknet_getBlockWithTxHashes: method(["block_id"], Schema.Struct({ block_id: blockId }), ({ block_id }) =>
      Effect.map(block(block_id), (b) => ({ ...blockHeader(b), transactions: b.transactions.map((t) => t.transactionHash) }))),
    starknet_getBlockWithTxs: method(["block_id"], Schema.Struct({ block_id: blockId }), ({ block_id }) =>
      Effect.map(block(block_id), (b) => ({ ...blockHeader(b), transactions: b.transactions.map(invokeTxn) })))
  }
}
