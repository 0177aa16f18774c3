/**
 * The `StarknetRpc` service over the devnet's node: reads as the (possibly lagging) readers see the chain, each
 * gated by the faults under the name of the JSON-RPC method the HTTP layer sends for it.
 */
import { Effect } from "effect"
import { RpcError, TransactionNotFound } from "../Errors.js"
import { Revert } from "./revert.js"
import { callSelector, type TxHash } from "../Schemas.js"
import { toOutsideCalls } from "../OutsideExecution.js"
import { callOutcomes, type Invocation, type Receipt, type SimulatedCalls, type StarknetRpc, type Trace } from "../StarknetRpc.js"
import type { Frame } from "./chain.js"
import type { Tx } from "./transactions.js"
import { ZERO_FEE_FIELDS } from "./transactions.js"
import { classOf } from "./abi.js"
import { type FaultGate, faultMessage } from "./faults.js"
import { felt, type Node, txView } from "./node.js"

export const blockNotFound = (method: string) => new RpcError({ method, code: 24, message: "Block not found", transient: false })

/** The fields of a simulated invoke: no signature (validation is skipped), no fee. */
const SIMULATION = { kind: "invoke" as const, signature: [], fields: ZERO_FEE_FIELDS, query: true }

/** A devnet frame as a trace's `FUNCTION_INVOCATION` reads. */
export const invocationOf = (f: Frame): Invocation => ({
  contractAddress: felt(f.to),
  selector: felt(f.selector),
  calldata: f.calldata.map(felt),
  result: f.result.map(felt),
  isReverted: f.reverted,
  calls: f.calls.map(invocationOf)
})

/**
 * The trace of a transaction readers can see executed (closed, or in the block being built): its last top-level
 * frame (`__execute__`, or the account's `execute_from_outside_v2` the relayer called), or its revert reason.
 */
export const traceOf = (node: Node, tx: Tx): Trace | undefined => {
  const receipt = node.receiptOf(tx)
  if (receipt === undefined) return undefined
  if (receipt.execution === "REVERTED") return { _tag: "Reverted", revertReason: receipt.revertReason ?? "" }
  const frames = receipt.finalityStatus === "PRE_CONFIRMED" ? receipt.trace : tx.trace
  const top = frames?.at(-1)
  return top === undefined ? undefined : { _tag: "Executed", execute: invocationOf(top) }
}

type Rpc = StarknetRpc["Type"]

const callFailure = (code: number, message: string) => new RpcError({ method: "starknet_call", code, message, transient: false })

/** `starknet_call`: at the state readers see, or pinned to a block (the state after it, at its timestamp). */
const callOn = (node: Node, req: Parameters<Rpc["call"]>[0]) =>
  Effect.suspend(() => {
    const { chain } = node
    const contract = BigInt(req.contractAddress)
    const deployed = node.head().state.get(contract)
    if (deployed === undefined) return Effect.fail(callFailure(20, "Contract not found"))
    if (!classOf(deployed.kind).selectors.has(BigInt(callSelector(req)))) {
      return Effect.fail(callFailure(21, "Requested entrypoint does not exist in the contract"))
    }
    try {
      if (req.blockNumber !== undefined && !(req.blockNumber === node.readBlock() && node.lagged() === undefined)) {
        // A read pinned to a block: the state after it, at its timestamp, as a node that keeps history answers.
        const n = req.blockNumber
        const state = n <= node.readBlock() ? chain.stateAt(n) : undefined
        const timestamp = node.block({ blockNumber: n })?.timestamp
        if (state === undefined || timestamp === undefined) return Effect.fail(callFailure(24, "Block not found"))
        const selector = BigInt(callSelector(req))
        const calldata = req.calldata.map(BigInt)
        return Effect.succeed(chain.viewAt(state, BigInt(timestamp), () => chain.call(0n, contract, selector, calldata)).map(felt))
      }
      return Effect.succeed(node.view(contract, BigInt(callSelector(req)), req.calldata.map(BigInt)).map(felt))
    } catch (error) {
      if (!(error instanceof Revert)) throw error
      return Effect.fail(callFailure(40, error.reason))
    }
  })

/** `starknet_simulateTransactions` of an account's calls, at the state readers see. */
const simulateOn = (node: Node, req: Parameters<Rpc["simulateCalls"]>[0]) =>
  Effect.suspend(() => {
    const { state, timestamp } = node.head()
    const calls = toOutsideCalls(req.calls)
    const payload = { ...SIMULATION, account: BigInt(req.account), calls, nonce: BigInt(req.nonce) }
    const result = node.chain.simulate(state, BigInt(timestamp), [payload], true)
    if ("error" in result) {
      return Effect.fail(new RpcError({ method: "starknet_simulateTransactions", code: 41, message: result.error.reason, transient: false }))
    }
    const execute = result.simulated[0]!.execute
    if ("revertReason" in execute) return Effect.succeed<SimulatedCalls>({ _tag: "Reverted", revertReason: execute.revertReason })
    const outcomes = callOutcomes(invocationOf(execute), req.calls)
    return outcomes === undefined
      ? Effect.dieMessage("devnet: a simulated trace does not show every call")
      : Effect.succeed<SimulatedCalls>({ _tag: "Executed", calls: outcomes })
  })

const traceOn = (node: Node, txHash: string) =>
  Effect.flatMap(node.findTx(txHash), (tx): Effect.Effect<Trace, RpcError> => {
    const seen = traceOf(node, tx)
    return seen === undefined
      ? Effect.fail(new RpcError({ method: "starknet_traceTransaction", code: 10, message: "No trace available for transaction", transient: false }))
      : Effect.succeed(seen)
  })

const receiptOn = (node: Node, txHash: string) =>
  Effect.flatMap(node.findTx(txHash), (tx): Effect.Effect<Receipt, TransactionNotFound> => {
    // In the block being built: a PRE_CONFIRMED receipt with the outcome it has there (not final).
    const r = node.receiptOf(tx)
    if (r === undefined) return Effect.fail(new TransactionNotFound({ txHash }))
    return Effect.succeed({
      transactionHash: felt(tx.hash) as TxHash,
      finalityStatus: r.finalityStatus,
      executionStatus: r.execution,
      ...(r.revertReason !== undefined ? { revertReason: r.revertReason } : {}),
      events: r.events.map((e) => ({ fromAddress: felt(e.fromAddress), keys: e.keys.map(felt), data: e.data.map(felt) })),
      blockNumber: r.blockNumber
    })
  })

/** `starknet_getBlockWithTxs`: a closed block as readers see it, or the block being built. */
const blockOn = (node: Node, blockNumber: Parameters<Rpc["getBlockWithTxs"]>[0]) =>
  Effect.suspend(() => {
    if (blockNumber === "pre_confirmed") {
      const pre = node.preConfirmed()
      if (pre === undefined) return Effect.fail(blockNotFound("starknet_getBlockWithTxs"))
      return Effect.succeed({
        blockNumber: pre.number,
        timestamp: pre.timestamp,
        transactions: [...pre.outcomes.keys()].map((tx) => {
          const view = txView(tx)
          return { transactionHash: view.transactionHash, type: "INVOKE", senderAddress: view.senderAddress, calldata: view.calldata }
        })
      })
    }
    const block = node.block({ blockNumber })
    if (block === undefined) return Effect.fail(blockNotFound("starknet_getBlockWithTxs"))
    return Effect.succeed({
      blockNumber: block.blockNumber,
      timestamp: block.timestamp,
      transactions: block.transactions.map((tx) => ({
        transactionHash: tx.transactionHash,
        type: "INVOKE",
        senderAddress: tx.senderAddress,
        calldata: tx.calldata
      }))
    })
  })

const nonceOn = (node: Node, address: string) =>
  Effect.suspend(() => {
    const contract = node.head().state.get(BigInt(address))
    return contract === undefined
      ? Effect.fail(new RpcError({ method: "starknet_getNonce", code: 20, message: "Contract not found", transient: false }))
      : Effect.succeed(felt(contract.kind === "account" ? contract.nonce : 0n))
  })

export const make = (node: Node, faults: FaultGate): Rpc => {
  const request = <A, E>(method: string, body: Effect.Effect<A, E>) =>
    faults.gate<A, E | RpcError>(
      method,
      (code) => new RpcError({ method, code, message: faultMessage(code), transient: true }),
      node.catchUp,
      body
    )
  return {
    chainId: request("starknet_chainId", Effect.succeed(felt(node.chainId))),
    latestBlock: request(
      "starknet_getBlockWithTxHashes",
      Effect.sync(() => ({ blockNumber: node.readBlock(), timestamp: node.lagged()?.timestamp ?? node.chain.latest.timestamp }))
    ),
    call: (req) => request("starknet_call", callOn(node, req)),
    simulateCalls: (req) => request("starknet_simulateTransactions", simulateOn(node, req)),
    getTransactionTrace: (txHash) => request("starknet_traceTransaction", traceOn(node, txHash)),
    getTransactionStatus: (txHash) => request("starknet_getTransactionStatus", Effect.map(node.findTx(txHash), node.statusOf)),
    getTransactionReceipt: (txHash) => request("starknet_getTransactionReceipt", receiptOn(node, txHash)),
    getBlockWithTxs: (blockNumber) => request("starknet_getBlockWithTxs", blockOn(node, blockNumber)),
    getNonce: (address) => request("starknet_getNonce", nonceOn(node, address))
  }
}
