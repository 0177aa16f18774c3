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
import { BroadcastedInvoke, callsOf, invokeParams } from "./invoke.js"
import { method, type Methods, Transient, WireError } from "./jsonrpc.js"
import { simulationMethods } from "./simulate.js"

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
  const devnet = yield* Devnet
  const node = internalsOf(devnet)?.node
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
    // The account's own INVOKE v3, validated as it is accepted (`__validate__`): refused with 55 (or 52 for the
    // nonce) and never included when validation fails.
    starknet_addInvokeTransaction: method(["invoke_transaction"], Schema.Struct({ invoke_transaction: BroadcastedInvoke }), ({ invoke_transaction: tx }) => {
      if (BigInt(tx.version) !== 3n) return Effect.fail(new WireError(61, "the transaction version is not supported"))
      const calls = callsOf(tx)
      if (calls === undefined) return Effect.fail(new WireError(55, "Account validation failed", "Failed to deserialize param #1"))
      return devnet.invoke(invokeParams(tx, calls)).pipe(
        Effect.map((transaction_hash) => ({ transaction_hash })),
        Effect.catchAll((e) =>
          Effect.fail(
            e.code === 52
              ? new WireError(52, "Invalid transaction nonce", e.revertReason ?? e.message)
              : new WireError(55, "Account validation failed", e.revertReason ?? e.message)
          )
        )
      )
    }),
    starknet_getNonce: method(
      ["block_id", "contract_address"],
      Schema.Struct({ block_id: blockId, contract_address: Address }),
      ({ contract_address }) => rpc.getNonce(contract_address).pipe(Effect.catchAll(rpcFail))
    )
  }
  // A devnet of this package answers the reads its node holds (blocks by any id, ...); a fake handle has none.
  return node === undefined ? methods : { ...methods, ...chainMethods(node), ...simulationMethods(node) }
})
