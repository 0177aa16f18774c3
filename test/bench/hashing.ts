/**
 * Outside-execution message hash: ours (Poseidon from the spec's formulas) against starknet.js's generic encoder,
 * with the specialised Poseidon and, in the same run, with @scure/starknet's generic permutation (as before it).
 */
import { typedData } from "starknet"
import { Constants, OutsideExecution, Schemas } from "starknet-session-keys"
import * as poseidon from "../../src/internal/crypto/poseidon.js"
import { fmt, msPerOp } from "./_measure.js"

const account = "0x0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

const outsideExecution = (calls: number): OutsideExecution.OutsideExecution => ({
  caller: Constants.ANY_CALLER,
  nonce: "0x5eed" as Schemas.Felt,
  executeAfter: 1n,
  executeBefore: 1893456000n,
  calls: Array.from({ length: calls }, (_, i) => ({
    to: Constants.STARKNET_CONTRACTS.USDC.contractAddress,
    selector: Schemas.selectorOf("transfer"),
    calldata: [`0x${(0xabc + i).toString(16)}`, "0x64", "0x0"] as Array<Schemas.Felt>
  }))
})

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export async function run(): Promise<void> {
  for (const calls of [1, 10]) {
    const oe = outsideExecution(calls)
    const td = OutsideExecution.toTypedData("SN_SEPOLIA", oe)
    if (OutsideExecution.typedDataHash(td, account) !== typedData.getMessageHash(td as never, account)) {
      throw new Error("the hashes differ")
    }
    // Interleaved rounds: the machine is shared, so each round times all three side by side.
    const rounds: Array<{ ours: number; before: number; theirs: number }> = []
    for (let round = 0; round < 5; round++) {
      const ours = msPerOp(() => OutsideExecution.typedDataHash(td, account), { minMillis: 200 })
      poseidon._useGeneric(true)
      const before = msPerOp(() => OutsideExecution.typedDataHash(td, account), { minMillis: 200 })
      poseidon._useGeneric(false)
      const theirs = msPerOp(() => typedData.getMessageHash(td as never, account), { minMillis: 200 })
      rounds.push({ ours, before, theirs })
    }
    const ours = median(rounds.map((r) => r.ours))
    const before = median(rounds.map((r) => r.before))
    const theirs = median(rounds.map((r) => r.theirs))
    console.log(
      `outside-execution hash, ${calls} call(s): ours ${fmt(ours)} ms (${fmt(before)} ms with the generic Poseidon), ` +
        `starknet.js getMessageHash ${fmt(theirs)} ms; ratio ${median(rounds.map((r) => r.ours / r.theirs)).toFixed(2)} ` +
        `(was ${median(rounds.map((r) => r.before / r.theirs)).toFixed(2)}; goal <= 0.5)`
    )
  }
}
