/**
 * The `starknet_*` methods of the served devnet, in RPC 0.9 shapes, over the `StarknetRpc` service. Every param
 * is decoded with a Schema before anything runs.
 */
import { Effect, Schema } from "effect"
import type { RpcError, TransactionNotFound } from "../../Errors.js"
import { Address, Felt, TxHash } from "../../Schemas.js"
import { StarknetRpc } from "../../StarknetRpc.js"
import { internalsOf } from "../registry.js"
import { Devnet } from "../types.js"
import { BlockId, blockHeader, chainMethods } from "./chain.js"
import { method, type Methods, Transient, WireError } from "./jsonrpc.js"

export { BlockId }
const blockId = Schema.optionalWith(BlockId, { default: () => "latest" as const })
const NoParams = Schema.Struct({})

const FunctionCall = Schema.Struct({
  contract_address: Address,
  entry_point_selector: Felt,
  calldata: Schema.optionalWith(Schema.Array(Felt), { default: () => [] })
})

export const starknetMethods = Effect.gen(function*() {
  const rpc = yield* StarknetRpc
  const node = internalsOf(yield* Devnet)?.node
  const rpcFail = (e: RpcError | TransactionNotFound): Effect.Effect<never, WireError | Transient> =>
    e._tag === "TransactionNotFound"
      ? Effect.fail(new WireError(29, "Transaction hash not found"))
      : e.transient === true
      ? Effect.fail(new Transient(e.code))
      : e.code === 40
      ? Effect.fail(new WireError(40, "Contract error", { revert_error: e.message }))
      : Effect.fail(new WireError(e.code ?? -32603, e.message))
  // A handle without a node (a fake) knows no block hashes: the latest block's header stands on its number.
  const block = rpc.latestBlock.pipe(
    Effect.map((b) => ({
      ...blockHeader({
        status: "ACCEPTED_ON_L2",
        blockHash: ("0x" + (b.blockNumber + 1).toString(16)) as Felt,
        parentHash: ("0x" + b.blockNumber.toString(16)) as Felt,
        blockNumber: b.blockNumber,
        timestamp: b.timestamp,
        transactions: []
      }),
      transactions: []
    })),
    Effect.catchAll(rpcFail)
  )
  const methods: Methods = {
    starknet_specVersion: method([], NoParams, () => Effect.succeed("0.9.0")),
    starknet_chainId: method([], NoParams, () => rpc.chainId.pipe(Effect.catchAll(rpcFail))),
    starknet_blockNumber: method([], NoParams, () => rpc.latestBlock.pipe(Effect.map((b) => b.blockNumber), Effect.catchAll(rpcFail))),
    starknet_getBlockWithTxHashes: method(["block_id"], Schema.Struct({ block_id: blockId }), () => block),
    starknet_call: method(
      ["request", "block_id"],
      Schema.Struct({ request: FunctionCall, block_id: blockId }),
      ({ request }) =>
        rpc.call({ contractAddress: request.contract_address, entrypoint: request.entry_point_selector, calldata: request.calldata })
          .pipe(Effect.catchAll(rpcFail))
    ),
    starknet_getTransactionStatus: method(
      ["transaction_hash"],
      Schema.Struct({ transaction_hash: TxHash }),
      ({ transaction_hash }) =>
        rpc.getTransactionStatus(transaction_hash).pipe(
          Effect.map((s) => ({
            finality_status: s.finalityStatus,
            ...(s.executionStatus !== undefined ? { execution_status: s.executionStatus } : {}),
            ...(s.revertReason !== undefined ? { failure_reason: s.revertReason } : {})
          })),
          Effect.catchAll(rpcFail)
        )
    ),
    starknet_getTransactionReceipt: method(
      ["transaction_hash"],
      Schema.Struct({ transaction_hash: TxHash }),
      ({ transaction_hash }) =>
        rpc.getTransactionReceipt(transaction_hash).pipe(
          Effect.map((r) => ({
            type: "INVOKE",
            transaction_hash: r.transactionHash,
            actual_fee: { amount: "0x0", unit: "FRI" },
            execution_status: r.executionStatus,
            finality_status: r.finalityStatus,
            ...(r.revertReason !== undefined ? { revert_reason: r.revertReason } : {}),
            block_number: r.blockNumber,
            block_hash: "0x" + ((r.blockNumber ?? 0) + 1).toString(16),
            messages_sent: [],
            events: r.events.map((e) => ({ from_address: e.fromAddress, keys: e.keys, data: e.data })),
            execution_resources: { l1_gas: 0, l1_data_gas: 0, l2_gas: 0 }
          })),
          Effect.catchAll(rpcFail)
        )
    ),
    starknet_getNonce: method(
      ["block_id", "contract_address"],
      Schema.Struct({ block_id: blockId, contract_address: Address }),
      ({ contract_address }) => rpc.getNonce(contract_address).pipe(Effect.catchAll(rpcFail))
    )
  }
  // A devnet of this package answers the reads its node holds (blocks by any id, ...); a fake handle has none.
  return node === undefined ? methods : { ...methods, ...chainMethods(node) }
})
