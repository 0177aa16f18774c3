/** Outside-execution message hash: ours (Poseidon from the spec's formulas) against starknet.js's generic encoder. */
import { typedData } from "starknet"
import { Constants, OutsideExecution, Schemas } from "starknet-session-keys"
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

export async function run(): Promise<void> {
  for (const calls of [1, 10]) {
    const oe = outsideExecution(calls)
    const td = OutsideExecution.toTypedData("SN_SEPOLIA", oe)
    const ours = msPerOp(() => OutsideExecution.typedDataHash(td, account))
    const theirs = msPerOp(() => typedData.getMessageHash(td as never, account))
    console.log(
      `outside-execution hash, ${calls} call(s): ours ${fmt(ours)} ms, starknet.js ${fmt(theirs)} ms, ratio ${(ours / theirs).toFixed(2)} (goal <= 1.0)`
    )
  }
}
