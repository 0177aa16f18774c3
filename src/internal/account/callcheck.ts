/**
 * Whether each call of a payment runs, before and after it is sent. The account runs a multicall's calls one by one
 * with `call_contract_syscall` and catches a failing one (reference source `src/account.cairo`, `_execute_calls`:
 * `Result::Err(_) => res.append(array![].span())`): the transaction SUCCEEDS, the session's call is used, and that
 * call moves nothing. A SUCCEEDED status is therefore no proof of a payment; a trace, or the token's events, is.
 */
import { Effect, type Schedule } from "effect"
import { CallFailed, CallWouldFail, type RpcError } from "../../Errors.js"
import { type Address, type Call, callSelector, type Felt, selectorOf, type TxHash } from "../../Schemas.js"
import { callOutcomes, findFrame, type Receipt, StarknetRpc } from "../../StarknetRpc.js"
import { retryTransient } from "../../Transactions.js"
import { lazily } from "./lazy.js"

const SELECTORS = lazily(() => ({ executeFromOutside: selectorOf("execute_from_outside_v2") as Felt }))
const EVENTS = lazily(() => ({
  Transfer: BigInt(selectorOf("Transfer")),
  Approval: BigInt(selectorOf("Approval"))
}))
const ENTRYPOINTS = lazily(() => ({
  transfer: BigInt(selectorOf("transfer")),
  approve: BigInt(selectorOf("approve"))
}))

/** The name a caller gave a call's entrypoint, or its selector. */
const nameOf = (call: Call) => call.entrypoint

/**
 * The account's own nonce, which its simulated invoke carries, per `StarknetRpc` service. Sponsored executions do
 * not change it (the relayer's transaction carries the nonce): the one read last is kept, read again when `fresh`
 * (an execute's preflight reads the nonce with the session's state whenever it reads that afresh, in the same
 * batch) and when a simulation finds it stale.
 */
const nonces = new WeakMap<object, Map<string, Felt>>()
const MAX_NONCES = 10_000

export const accountNonce = (
  wallet: Address,
  retry: Schedule.Schedule<unknown, RpcError> | undefined,
  fresh = false
): Effect.Effect<Felt, RpcError, StarknetRpc> =>
  Effect.gen(function*() {
    const rpc = yield* StarknetRpc
    let known = nonces.get(rpc)
    if (known === undefined) {
      known = new Map()
      nonces.set(rpc, known)
    }
    const seen = known.get(wallet)
    if (!fresh && seen !== undefined) return seen
    const nonce = yield* retryTransient(rpc.getNonce(wallet), retry)
    known.delete(wallet)
    if (known.size >= MAX_NONCES) known.delete(known.keys().next().value!)
    known.set(wallet, nonce)
    return nonce
  })

/** The account's nonce kept by this service, if any (see `accountNonce`). */
export const keptNonce = (rpc: StarknetRpc["Type"], wallet: Address): Felt | undefined => nonces.get(rpc)?.get(wallet)

/** A simulation refused for its nonce (`INVALID_TRANSACTION_NONCE`, or a 41 whose message says so). */
const staleNonce = (e: RpcError) => e.code === 52 || /nonce/i.test(e.message)

/**
 * Simulates the calls as the account's `__execute__` runs them on the state the network executes on; the first
 * call that would fail is `CallWouldFail`, a transaction that would revert as a whole too (index -1). A node that
 * cannot simulate (no such method, a transaction shape it refuses) decides nothing: the check after execution
 * still holds. `nonce`: the account's nonce when already read (`accountNonce`).
 */
export const simulationRefusal = (
  wallet: Address,
  calls: ReadonlyArray<Call>,
  retry: Schedule.Schedule<unknown, RpcError> | undefined,
  nonce?: Felt
): Effect.Effect<CallWouldFail | undefined, RpcError, StarknetRpc> =>
  Effect.gen(function*() {
    const rpc = yield* StarknetRpc
    const simulate = (n: Felt) => retryTransient(rpc.simulateCalls({ account: wallet, calls, nonce: n }), retry)
    const simulated = yield* simulate(nonce ?? (yield* accountNonce(wallet, retry))).pipe(
      Effect.catchIf(staleNonce, () => Effect.flatMap(accountNonce(wallet, retry, true), simulate)),
      Effect.catchIf((e) => !e.transient, (e) =>
        Effect.as(
          Effect.logWarning("the node could not simulate the calls; they are sent unchecked").pipe(
            Effect.annotateLogs({ code: e.code, message: e.message })
          ),
          undefined
        ))
    )
    if (simulated === undefined) return undefined
    if (simulated._tag === "Reverted") {
      return new CallWouldFail({ callIndex: -1, contractAddress: wallet, entrypoint: "__execute__", reason: simulated.revertReason })
    }
    const index = simulated.calls.findIndex((c) => c.reverted)
    if (index < 0) return undefined
    const call = calls[index]!
    return new CallWouldFail({
      callIndex: index,
      contractAddress: call.contractAddress,
      entrypoint: nameOf(call),
      reason: simulated.calls[index]!.reason ?? "the call failed"
    })
  })

/** A Transfer or Approval event of `token` from `owner` to `to` for `amount`, in either layout tokens use. */
const hasEvent = (receipt: Receipt, token: bigint, key: bigint, owner: bigint, to: bigint, amount: readonly [bigint, bigint]) =>
  receipt.events.some((e) => {
    if (BigInt(e.fromAddress) !== token || e.keys[0] === undefined || BigInt(e.keys[0]) !== key) return false
    // OpenZeppelin: keys [selector, from, to], data [low, high]; older tokens: all in data.
    const fields = [...e.keys.slice(1), ...e.data].map(BigInt)
    return fields.length >= 4 && fields[0] === owner && fields[1] === to && fields[2] === amount[0] && fields[3] === amount[1]
  })

/**
 * The first call of a payment that failed inside its SUCCEEDED transaction: read from the transaction's trace (the
 * account's `execute_from_outside_v2` frame and its calls), else, on a node without traces, from the receipt's
 * events for the calls that declare one (a `transfer` shows a `Transfer` from the wallet, an `approve` an
 * `Approval`); calls without a declared event are then taken as run.
 */
export const failedCall = (
  txHash: TxHash,
  wallet: Address,
  calls: ReadonlyArray<Call>,
  receipt: Receipt,
  retry: Schedule.Schedule<unknown, RpcError> | undefined
): Effect.Effect<CallFailed | undefined, never, StarknetRpc> =>
  Effect.gen(function*() {
    const rpc = yield* StarknetRpc
    const failed = (index: number, reason: string) => {
      const call = calls[index]!
      return new CallFailed({ txHash, callIndex: index, contractAddress: call.contractAddress, entrypoint: nameOf(call), reason, callUsed: true })
    }
    const trace = yield* retryTransient(rpc.getTransactionTrace(txHash), retry).pipe(Effect.option)
    if (trace._tag === "Some" && trace.value._tag === "Executed") {
      const frame = findFrame(trace.value.execute, wallet, SELECTORS.executeFromOutside)
      const outcomes = frame === undefined ? undefined : callOutcomes(frame, calls)
      if (outcomes !== undefined) {
        const index = outcomes.findIndex((o) => o.reverted)
        return index < 0 ? undefined : failed(index, outcomes[index]!.reason ?? "the call failed")
      }
    }
    const owner = BigInt(wallet)
    for (const [index, call] of calls.entries()) {
      const selector = BigInt(callSelector(call))
      const key = selector === ENTRYPOINTS.transfer ? EVENTS.Transfer : selector === ENTRYPOINTS.approve ? EVENTS.Approval : undefined
      if (key === undefined) continue
      const [to, low, high] = call.calldata.map(BigInt)
      if (to === undefined || low === undefined || high === undefined) return failed(index, "its calldata is too short for a u256 amount")
      if (!hasEvent(receipt, BigInt(call.contractAddress), key, owner, to, [low, high])) {
        return failed(index, `no ${key === EVENTS.Transfer ? "Transfer" : "Approval"} event of this amount from the wallet`)
      }
    }
    return undefined
  })
