/**
 * The devnet's paymaster: SNIP-29 semantics over the node. It builds SNIP-12 typed data, simulates before it
 * submits (a refusal is error 156 and nothing is sent), and knows the nonces of its own pending transactions.
 */
import * as nodeCrypto from "node:crypto"
import { Effect } from "effect"
import { ANY_CALLER } from "../Constants.js"
import { PaymasterError } from "../Errors.js"
import { Revert } from "./revert.js"
import { toHex, typedDataScalar } from "../internal/crypto/felt.js"
import {
  executeFromOutsideCalldata,
  fromTypedData,
  type OutsideExecutionTypedData,
  toOutsideCalls,
  toTypedData
} from "../OutsideExecution.js"
import type { Paymaster } from "../Paymaster.js"
import { callSelector, type Felt } from "../Schemas.js"
import { type FaultGate, faultMessage } from "./faults.js"
import { felt, type Node } from "./node.js"
import type { DevnetOptions, Faults } from "./types.js"

const U128 = 2n ** 128n - 1n

export const SNIP29 = {
  INVALID_ADDRESS: 150,
  TRANSACTION_EXECUTION_ERROR: 156,
  INVALID_TIME_BOUNDS: 157
} as const

/**
 * AVNU's 156 for what is not a simulated revert (avnu-labs/paymaster `paymaster-execution` `Error`, shown with
 * `Display`): no revert reason, the text after the message, which the served devnet sends as
 * `data.execution_error`.
 */
export const avnuMessage = (text: string) =>
  new PaymasterError({ code: SNIP29.TRANSACTION_EXECUTION_ERROR, message: `An error occurred (TRANSACTION_EXECUTION_ERROR): ${text}` })
/** The text AVNU's duplicate filter answers. */
export const TX_ALREADY_SENT = "execution error Tx already sent"

const pmError = (name: keyof typeof SNIP29, revertReason?: string) =>
  new PaymasterError({
    code: SNIP29[name],
    message: `An error occurred (${name})${revertReason !== undefined ? `: ${revertReason}` : ""}`,
    ...(revertReason !== undefined ? { revertReason } : {})
  })

/** The typed data altered in the field the `alterTypedData` fault names. */
const alter = (mode: Faults["alterTypedData"], td: OutsideExecutionTypedData): OutsideExecutionTypedData => {
  if (mode === undefined) return td
  const message = td.message
  const firstCall = message.Calls[0]
  const calls = (f: (c: NonNullable<typeof firstCall>) => NonNullable<typeof firstCall>) =>
    [firstCall ? f(firstCall) : firstCall!, ...message.Calls.slice(1)]
  switch (mode) {
    case "calldata":
      return { ...td, message: { ...message, Calls: calls((c) => ({ ...c, Calldata: c.Calldata.map((d, i) => (i === 0 ? "0xbad" : d)) })) } }
    case "to":
      return { ...td, message: { ...message, Calls: calls((c) => ({ ...c, To: "0xbad" })) } }
    case "selector":
      return { ...td, message: { ...message, Calls: calls((c) => ({ ...c, Selector: callSelector({ entrypoint: "approve" }) })) } }
    case "chainId":
      return { ...td, domain: { ...td.domain, chainId: "SN_MAIN" } }
    case "window":
      return { ...td, message: { ...message, "Execute Before": toHex(typedDataScalar(message["Execute Before"]) + 86_400n) } }
    case "caller":
      return { ...td, message: { ...message, Caller: "0xbad" } }
  }
}

export const make = (node: Node, faults: FaultGate, options: DevnetOptions): Paymaster["Type"] => {
  const { chain, relayer, settings } = node
  const invalidTimeBounds = () =>
    settings.paymasterErrors === "avnu" ? avnuMessage("invalid time bounds") : pmError("INVALID_TIME_BOUNDS")
  // AVNU's duplicate filter: (user, outside-execution nonce) -> when it was first sent, in the node's clock.
  const sent = new Map<string, number>()
  const request = <A, E>(method: string, body: Effect.Effect<A, E>) =>
    faults.gate<A, E | PaymasterError>(
      method,
      (code) => new PaymasterError({ code, message: faultMessage(code), transient: true }),
      node.catchUp,
      body
    )
  return {
    isAvailable: request("paymaster_isAvailable", Effect.succeed(true)),
    buildTransaction: (req) =>
      request(
        "paymaster_buildTransaction",
        Effect.gen(function*() {
          if (chain.account(BigInt(req.userAddress)) === undefined) return yield* pmError("INVALID_ADDRESS")
          // The server's clock (the chain's: Clock plus advanceTime); AVNU's default window is 1 .. now + 3600 s.
          const now = yield* node.nowSeconds
          const avnu = settings.timeBounds === "avnu"
          const after = req.timeBounds !== undefined ? BigInt(req.timeBounds.executeAfter) : avnu ? 1n : now > 60n ? now - 60n : 0n
          const before = req.timeBounds !== undefined ? BigInt(req.timeBounds.executeBefore) : now + 3600n
          if (after < 0n || before <= after || before > U128) return yield* invalidTimeBounds()
          const nonce = BigInt("0x" + nodeCrypto.randomBytes(31).toString("hex"))
          const typedData = toTypedData(toHex(node.chainId), {
            caller: (options.callerMode === "relayer" ? felt(relayer) : ANY_CALLER) as Felt,
            nonce: felt(nonce),
            executeAfter: after,
            executeBefore: before,
            calls: toOutsideCalls(req.calls)
          })
          return { typedData: alter(faults.current().alterTypedData, typedData) }
        })
      ),
    executeTransaction: (req) =>
      request(
        "paymaster_executeTransaction",
        Effect.gen(function*() {
          const account = BigInt(req.userAddress)
          if (chain.account(account) === undefined) return yield* pmError("INVALID_ADDRESS")
          const { outsideExecution } = fromTypedData(req.typedData)
          const calldata = executeFromOutsideCalldata(outsideExecution, req.signature)
          const payload = { kind: "outside" as const, relayer, account, calldata: calldata.map(BigInt) }
          const nonce = BigInt(outsideExecution.nonce)
          // AVNU's duplicate filter comes first, and keeps its entry whatever follows (a failed estimate, a lost
          // answer): the same (user, nonce) again within the window is refused without being looked at.
          if (settings.duplicateFilterMillis > 0) {
            const nowMs = yield* node.nowMillis
            for (const [k, at] of sent) if (nowMs - at >= settings.duplicateFilterMillis) sent.delete(k)
            const key = `${account}:${nonce}`
            if (sent.has(key)) return yield* avnuMessage(TX_ALREADY_SENT)
            sent.set(key, nowMs)
          }
          // The relayer knows what it has already sent: a nonce it submitted and that is still pending is taken.
          if (chain.pending.some((tx) => tx.payload.kind === "outside" && tx.payload.account === account && tx.outsideNonce === nonce)) {
            return yield* pmError("TRANSACTION_EXECUTION_ERROR", "SRC9: duplicated nonce")
          }
          // Simulate first, like real paymasters: a refusal is an error and nothing is sent. AVNU estimates at
          // `pre_confirmed`, on top of the transactions in the block being built (a registration just pre-confirmed
          // is there), which is also what the sequencer will run it on. One sent too recently to be pre-confirmed
          // (`submissionHidden`) is not in that view yet, as on the network.
          const now = yield* node.nowSeconds
          const at = now > BigInt(chain.latest.timestamp) ? now : BigInt(chain.latest.timestamp)
          // The `staleEstimateNext` fault: the estimate misses the transactions pending in the block being built, as
          // when they land between AVNU's estimate and its send (it sends with no second simulation).
          const nowMillis = yield* node.nowMillis
          const stale = (faults.current().staleEstimateNext ?? 0) > 0
          if (stale) faults.merge({ staleEstimateNext: faults.current().staleEstimateNext! - 1 })
          try {
            if (stale) chain.dryRun(at, () => chain.apply(payload, at))
            else chain.viewAt(chain.preConfirmed(Number(at), nowMillis).state, at, () => chain.apply(payload, at))
          } catch (error) {
            if (!(error instanceof Revert)) throw error
            return yield* pmError("TRANSACTION_EXECUTION_ERROR", error.reason)
          }
          return { transactionHash: node.enqueue(payload, nonce, true) }
        })
      )
  }
}
