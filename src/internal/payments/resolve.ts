/**
 * What the chain says about a recorded payload: one look at its nonce (`lookAt`), the search for the transaction
 * that executed it (`findTransaction`), and the looks repeated until its outcome is decided (`resolvePayment`).
 */
import { Effect, Ref, type Schedule } from "effect"
import { type LedgerError, OutcomeUnknown, type RpcError } from "../../Errors.js"
import { Ledger, type Payment } from "../../Ledger.js"
import type { Outcome } from "../../Payments.js"
import type { Options } from "../../Sessions.js"
import { StarknetRpc } from "../../StarknetRpc.js"
import * as Transactions from "../../Transactions.js"
import { retrying } from "../sessions/lifecycle.js"
import { carries } from "./scan.js"

export type Look = "used" | "dead" | "open"

/**
 * One look. The nonce on the state the network executes on (`pre_confirmed`): used there means executed (in a
 * closed block, or in the block being built). Unused there says "dead" only past the window, and only as read at a
 * closed block fetched first: a `latest` answered by a node that lags behind the one that gave the block could show
 * a used nonce unused at a time past the window, and call an executed payment dead.
 */
export const lookAt = (payment: Payment, retry: Options["retry"]): Effect.Effect<Look, RpcError, StarknetRpc> =>
  Effect.gen(function*() {
    const rpc = yield* StarknetRpc
    const nonceAt = (blockNumber?: number) =>
      retrying(
        rpc.call({
          contractAddress: payment.wallet,
          entrypoint: "is_valid_outside_execution_nonce",
          calldata: [payment.nonce],
          ...(blockNumber !== undefined ? { blockNumber } : {})
        }),
        retry
      ).pipe(Effect.map(([valid]) => (valid === undefined ? undefined : BigInt(valid) !== 0n)))
    const [block, atHead] = yield* Effect.all([retrying(rpc.latestBlock, retry), nonceAt()], { concurrency: 2 })
    // An answer without a value decides nothing.
    if (atHead === undefined) return "open"
    if (!atHead) return "used"
    if (block.timestamp < payment.executeBefore) return "open"
    const valid = yield* nonceAt(block.blockNumber)
    if (valid === undefined) return "open"
    return valid ? "dead" : "used"
  })

/** Blocks read per look while searching for a transaction (read together: one batch over HTTP). */
const SCAN_BATCH = 20

/**
 * Looks for the transaction that executed a payload in the blocks from `cursor` to the latest: the relayer's
 * invoke whose calldata carries the payload's nonce, and that succeeded. Moves the cursor on.
 */
const findTransaction = (payment: Payment, cursor: Ref.Ref<number>, retry: Options["retry"]) =>
  Effect.gen(function*() {
    const rpc = yield* StarknetRpc
    const latest = (yield* retrying(rpc.latestBlock, retry)).blockNumber
    const wallet = BigInt(payment.wallet)
    const nonce = BigInt(payment.nonce)
    while ((yield* Ref.get(cursor)) <= latest) {
      const from = yield* Ref.get(cursor)
      const numbers = Array.from({ length: Math.min(SCAN_BATCH, latest - from + 1) }, (_, i) => from + i)
      const blocks = yield* Effect.forEach(numbers, (n) => retrying(rpc.getBlockWithTxs(n), retry), { concurrency: SCAN_BATCH })
      const candidates = blocks.flatMap((b) => b.transactions.filter((tx) => carries(tx.calldata, wallet, nonce)))
      let unknown = false
      for (const tx of candidates) {
        const receipt = yield* retrying(
          rpc.getTransactionReceipt(tx.transactionHash).pipe(Effect.catchTag("TransactionNotFound", () => Effect.succeed(undefined))),
          retry
        )
        if (receipt !== undefined && Transactions.isFinal(receipt) && receipt.executionStatus === "SUCCEEDED") return tx.transactionHash
        // A node that served the block may be ahead of the one asked for the receipt (which does not know it, or
        // has it only pre-confirmed): look at these blocks again.
        if (receipt === undefined || !Transactions.isFinal(receipt)) unknown = true
      }
      if (unknown) return undefined
      yield* Ref.set(cursor, from + numbers.length)
    }
    // Executed in the block being built: pre-confirmed, its outcome known (it is lost only if that block is not
    // finalised, and then its nonce is unused again).
    const pre = yield* retrying(rpc.getBlockWithTxs("pre_confirmed"), retry).pipe(Effect.option)
    if (pre._tag === "None") return undefined
    for (const tx of pre.value.transactions.filter((t) => carries(t.calldata, wallet, nonce))) {
      const status = yield* retrying(rpc.getTransactionStatus(tx.transactionHash).pipe(Effect.catchTag("TransactionNotFound", () => Effect.succeed(undefined))), retry).pipe(Effect.option)
      if (status._tag === "Some" && status.value?.executionStatus === "SUCCEEDED") return tx.transactionHash
    }
    return undefined
  })

/**
 * Looks at the chain until the outcome of a payload is known or `schedule` ends (then `undefined`). Reads that fail
 * leave the outcome open. The record learns what is found.
 */
export const resolvePayment = (
  payment: Payment,
  schedule: Schedule.Schedule<unknown, unknown>,
  retry: Options["retry"]
): Effect.Effect<Outcome | undefined, LedgerError, StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const cursor = yield* Ref.make(payment.firstBlock)
    const decided = yield* Ref.make<Outcome | undefined>(undefined)
    const step = Effect.gen(function*() {
      const look = yield* lookAt(payment, retry)
      if (look === "open") return
      if (look === "dead") return yield* Ref.set(decided, { _tag: "NotExecuted", nonce: payment.nonce, executeBefore: payment.executeBefore })
      const found = payment.transactionHash !== undefined && payment.status === "executed"
        ? payment.transactionHash
        : yield* findTransaction(payment, cursor, retry)
      if (found !== undefined) yield* Ref.set(decided, { _tag: "Executed", transactionHash: found })
    }).pipe(
      Effect.catchAll((error) => Effect.logDebug("a look at the chain failed; the outcome stays open", error)),
      Effect.zipRight(Ref.get(decided))
    )
    yield* Effect.repeat(step, { schedule, until: (outcome) => outcome !== undefined })
    const outcome = yield* Ref.get(decided)
    if (outcome?._tag === "Executed") {
      yield* ledger.updatePayment(payment.wallet, payment.idempotencyKey, payment.nonce, { status: "executed", transactionHash: outcome.transactionHash }).pipe(
        Effect.catchAll((error) => Effect.logWarning("the ledger could not record an executed payment; the record stays open", error))
      )
    } else if (outcome?._tag === "NotExecuted") {
      if (payment.reservation !== undefined) yield* ledger.release(payment.reservation)
      yield* ledger.updatePayment(payment.wallet, payment.idempotencyKey, payment.nonce, { status: "not-executed" })
    }
    return outcome
  }).pipe(Effect.annotateLogs({ wallet: payment.wallet, nonce: payment.nonce, idempotencyKey: payment.idempotencyKey }))

export const unknownOf = (payment: Payment) =>
  new OutcomeUnknown({
    wallet: payment.wallet,
    nonce: payment.nonce,
    executeBefore: payment.executeBefore,
    idempotencyKey: payment.idempotencyKey
  })
