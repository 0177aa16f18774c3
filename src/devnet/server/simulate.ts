/**
 * `starknet_estimateFee` and `starknet_simulateTransactions` of spec 0.9 for the account's own INVOKE v3
 * (`@starknet-io/starknet-types-09`, `api/methods` and `api/components`: `FEE_ESTIMATE`, `SIMULATION_FLAG`,
 * `INVOKE_TXN_TRACE`, `FUNCTION_INVOCATION`; `api/errors`: 41 `TRANSACTION_EXECUTION_ERROR`). The transactions run
 * in order by the account's rules (validation unless `SKIP_VALIDATE`, then execution) on the state after the block
 * asked for, and nothing is kept.
 */
import { Effect, Schema } from "effect"
import { toHex } from "../../internal/crypto/felt.js"
import { Felt } from "../../Schemas.js"
import { classOf, SESSION_ACCOUNT_CLASS_HASH } from "../abi.js"
import type { Frame, Simulated, State } from "../chain.js"
import { invokePayload } from "../handle.js"
import type { Node } from "../node.js"
import type { Rejected } from "../revert.js"
import { S } from "../selectors.js"
import { feeOf, GAS_PRICES, type Gas, QUERY_VERSION_3 } from "../transactions.js"
import { BlockId, stateAtBlock } from "./chain.js"
import { formatPanic, RELAYER_CLASS_HASH } from "./executionError.js"
import { BroadcastedInvoke, callsOf, invokeParams } from "./invoke.js"
import { method, type Methods, WireError } from "./jsonrpc.js"

const hex = (v: bigint) => toHex(v) as Felt

/** `FEE_ESTIMATE`: the gas the devnet's model gives (`gasOf`) at its prices (all zero: every fee is 0). */
export const feeEstimate = (g: Gas) => ({
  l1_gas_consumed: hex(g.l1Gas),
  l1_gas_price: hex(GAS_PRICES.l1Gas),
  l2_gas_consumed: hex(g.l2Gas),
  l2_gas_price: hex(GAS_PRICES.l2Gas),
  l1_data_gas_consumed: hex(g.l1DataGas),
  l1_data_gas_price: hex(GAS_PRICES.l1DataGas),
  overall_fee: hex(feeOf(g)),
  unit: "FRI"
})

/** Error 41, naming the first transaction that failed and why (`CONTRACT_EXECUTION_ERROR`). */
const executionError = (index: number, error: unknown) =>
  new WireError(41, "Transaction execution error", { transaction_index: index, execution_error: error })

/** The frame of the account's entrypoint that failed, its `error` the sequencer's formatting of the panic. */
const accountFrame = (account: bigint, selector: bigint, reason: string) => ({
  contract_address: hex(account),
  class_hash: hex(SESSION_ACCOUNT_CLASS_HASH),
  selector: hex(selector),
  error: formatPanic(reason)
})

const rejection = (account: bigint, e: Rejected) =>
  e.panic !== undefined
    ? accountFrame(account, S.__validate__, e.panic)
    : e.code === 55 && e.reason.endsWith("returned 0")
    ? { contract_address: hex(account), class_hash: hex(SESSION_ACCOUNT_CLASS_HASH), selector: hex(S.__validate__), error: e.reason }
    : e.reason

/** `FUNCTION_INVOCATION` of a traced call; the devnet's gas is counted per transaction, so a call's own is 0. */
const invocation = (state: State, f: Frame): unknown => ({
  contract_address: hex(f.to),
  entry_point_selector: hex(f.selector),
  calldata: f.calldata.map(hex),
  caller_address: hex(f.caller),
  class_hash: hex(classOf(state.get(f.to)?.kind ?? "account").classHash),
  entry_point_type: "EXTERNAL",
  call_type: "CALL",
  result: f.result.map(hex),
  calls: f.calls.map((c) => invocation(state, c)),
  events: f.events.map(({ event, order }) => ({ order, keys: event.keys.map(hex), data: event.data.map(hex) })),
  messages: [],
  execution_resources: { l1_gas: 0, l2_gas: 0 },
  is_reverted: f.reverted
})

const trace = (state: State, s: Simulated, skipFeeCharge: boolean) => ({
  type: "INVOKE",
  execute_invocation: "revertReason" in s.execute ? { revert_reason: s.execute.revertReason } : invocation(state, s.execute),
  ...(s.validate !== undefined ? { validate_invocation: invocation(state, s.validate) } : {}),
  ...(skipFeeCharge ? {} : { fee_transfer_invocation: invocation(state, s.feeTransfer) }),
  execution_resources: { l1_gas: Number(s.gas.l1Gas), l1_data_gas: Number(s.gas.l1DataGas), l2_gas: Number(s.gas.l2Gas) }
})

/**
 * The trace of an executed transaction (`starknet_traceTransaction`, `INVOKE_TXN_TRACE`): the account's own
 * `__execute__`, or the relayer's `__execute__` around the account's `execute_from_outside_v2`; `{ revert_reason }`
 * for one that reverted. Error 29 for a hash readers do not see executed, 10 when the devnet kept no trace.
 */
const traceMethod = (node: Node) =>
  method(["transaction_hash"], Schema.Struct({ transaction_hash: Felt }), ({ transaction_hash }) =>
    Effect.suspend(() => {
      const tx = node.chain.txs.get(BigInt(transaction_hash))
      const receipt = tx === undefined || tx.rejected !== undefined ? undefined : node.receiptOf(tx)
      if (tx === undefined || receipt === undefined) return Effect.fail(new WireError(29, "Transaction hash not found"))
      const state = node.chain.contracts
      const resources = { l1_gas: Number(receipt.gas.l1Gas), l1_data_gas: Number(receipt.gas.l1DataGas), l2_gas: Number(receipt.gas.l2Gas) }
      if (receipt.execution === "REVERTED") {
        return Effect.succeed({ type: "INVOKE", execute_invocation: { revert_reason: receipt.revertReason ?? "" }, execution_resources: resources })
      }
      const top = (receipt.finalityStatus === "PRE_CONFIRMED" ? receipt.trace : tx.trace)?.at(-1)
      if (top === undefined) return Effect.fail(new WireError(10, "No trace available for transaction"))
      const execute = tx.payload.kind === "outside"
        ? {
          ...(invocation(state, { ...top, caller: 0n, to: tx.sender, selector: S.__execute__, calldata: tx.calldata, calls: [top], events: [] }) as object),
          class_hash: hex(RELAYER_CLASS_HASH)
        }
        : invocation(state, top)
      return Effect.succeed({ type: "INVOKE", execute_invocation: execute, execution_resources: resources })
    }))

export const simulationMethods = (node: Node): Methods => {
  const run = (txs: ReadonlyArray<BroadcastedInvoke>, skipValidate: boolean, id: typeof BlockId.Type) =>
    Effect.gen(function*() {
      const { state, timestamp } = yield* stateAtBlock(node, id)
      const payloads = []
      for (const [index, tx] of txs.entries()) {
        const version = BigInt(tx.version)
        if (version !== 3n && version !== QUERY_VERSION_3) return yield* Effect.fail(executionError(index, "the transaction version is not supported"))
        const calls = callsOf(tx)
        const account = BigInt(tx.sender_address)
        if (calls === undefined) return yield* Effect.fail(executionError(index, accountFrame(account, S.__validate__, "Failed to deserialize param #1")))
        const payload = yield* invokePayload(invokeParams(tx, calls))
        payloads.push(version === QUERY_VERSION_3 ? { ...payload, query: true } : payload)
      }
      const result = node.chain.simulate(state, BigInt(timestamp), payloads, skipValidate)
      if ("error" in result) return yield* Effect.fail(executionError(result.index, rejection(payloads[result.index]!.account, result.error)))
      return { state, simulated: result.simulated, payloads }
    })
  return {
    starknet_traceTransaction: traceMethod(node),
    // A transaction that reverts has no estimate: error 41 with the account's `__execute__` frame.
    starknet_estimateFee: method(
      ["request", "simulation_flags", "block_id"],
      Schema.Struct({
        request: Schema.Array(BroadcastedInvoke),
        simulation_flags: Schema.Array(Schema.Literal("SKIP_VALIDATE")).pipe(Schema.maxItems(1)),
        block_id: BlockId
      }),
      ({ block_id, request, simulation_flags }) =>
        Effect.flatMap(run(request, simulation_flags.includes("SKIP_VALIDATE"), block_id), ({ payloads, simulated }) => {
          const reverted = simulated.findIndex((s) => "revertReason" in s.execute)
          if (reverted >= 0) {
            const reason = (simulated[reverted]!.execute as { readonly revertReason: string }).revertReason
            return Effect.fail(executionError(reverted, accountFrame(payloads[reverted]!.account, S.__execute__, reason)))
          }
          return Effect.succeed(simulated.map((s) => feeEstimate(s.gas)))
        })
    ),
    starknet_simulateTransactions: method(
      ["block_id", "transactions", "simulation_flags"],
      Schema.Struct({
        block_id: BlockId,
        transactions: Schema.Array(BroadcastedInvoke),
        simulation_flags: Schema.Array(Schema.Literal("SKIP_VALIDATE", "SKIP_FEE_CHARGE")).pipe(Schema.maxItems(2))
      }),
      ({ block_id, simulation_flags, transactions }) =>
        Effect.map(run(transactions, simulation_flags.includes("SKIP_VALIDATE"), block_id), ({ simulated, state }) =>
          simulated.map((s) => ({
            transaction_trace: trace(state, s, simulation_flags.includes("SKIP_FEE_CHARGE")),
            fee_estimation: feeEstimate(s.gas)
          })))
    )
  }
}
