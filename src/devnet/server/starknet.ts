/**
 * The `starknet_*` methods of the served devnet, in RPC 0.9 shapes, over the `StarknetRpc` service.
 */
import { Effect } from "effect"
import type { Felt, TxHash } from "../../Schemas.js"
import { StarknetRpc } from "../../StarknetRpc.js"
import { invalid, type Methods, param, Transient, WireError } from "./jsonrpc.js"

export const starknetMethods = Effect.gen(function*() {
  const rpc = yield* StarknetRpc
  const rpcFail = (e: { readonly _tag: string; readonly code?: number; readonly message: string; readonly transient?: boolean }): Effect.Effect<never, WireError | Transient> =>
    e.transient === true
      ? Effect.fail(new Transient(e.code))
      : e._tag === "TransactionNotFound"
      ? Effect.fail(new WireError(29, "Transaction hash not found"))
      : e.code === 40
      ? Effect.fail(new WireError(40, "Contract error", { revert_error: e.message }))
      : Effect.fail(new WireError(e.code ?? -32603, e.message))
  const methods: Methods = {
    starknet_specVersion: () => Effect.succeed("0.9.0"),
    starknet_chainId: () => rpc.chainId.pipe(Effect.catchAll(rpcFail)),
    starknet_blockNumber: () => rpc.latestBlock.pipe(Effect.map((b) => b.blockNumber), Effect.catchAll(rpcFail)),
    starknet_getBlockWithTxHashes: () =>
      rpc.latestBlock.pipe(
        Effect.map((b) => ({
          status: "ACCEPTED_ON_L2",
          block_hash: "0x" + (b.blockNumber + 1).toString(16),
          parent_hash: "0x" + b.blockNumber.toString(16),
          block_number: b.blockNumber,
          new_root: "0x0",
          timestamp: b.timestamp,
          sequencer_address: "0x0",
          l1_gas_price: { price_in_fri: "0x0", price_in_wei: "0x0" },
          l2_gas_price: { price_in_fri: "0x0", price_in_wei: "0x0" },
          l1_data_gas_price: { price_in_fri: "0x0", price_in_wei: "0x0" },
          l1_da_mode: "BLOB",
          starknet_version: "0.14.0",
          transactions: []
        })),
        Effect.catchAll(rpcFail)
      ),
    starknet_call: (params) => {
      const request = param(params, "request", 0) as Record<string, unknown> | undefined
      if (request === undefined) return invalid("request")
      return rpc.call({
        contractAddress: String(request["contract_address"]) as never,
        entrypoint: String(request["entry_point_selector"]),
        calldata: ((request["calldata"] as Array<string> | undefined) ?? []).map((v) => "0x" + BigInt(v).toString(16) as Felt)
      }).pipe(Effect.catchAll(rpcFail))
    },
    starknet_getTransactionStatus: (params) =>
      rpc.getTransactionStatus(String(param(params, "transaction_hash", 0)) as TxHash).pipe(
        Effect.map((s) => ({
          finality_status: s.finalityStatus,
          ...(s.executionStatus !== undefined ? { execution_status: s.executionStatus } : {}),
          ...(s.revertReason !== undefined ? { failure_reason: s.revertReason } : {})
        })),
        Effect.catchAll(rpcFail)
      ),
    starknet_getTransactionReceipt: (params) =>
      rpc.getTransactionReceipt(String(param(params, "transaction_hash", 0)) as TxHash).pipe(
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
      ),
    starknet_getNonce: (params) =>
      rpc.getNonce(String(param(params, "contract_address", 1)) as never).pipe(Effect.catchAll(rpcFail)),
  }
  return methods
})
