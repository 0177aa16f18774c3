// The guide's "Putting it together", unchanged but for its import lines and the construction of the client
// (at the bottom, in `main`). Run by test/examples.test.ts against the embedded devnet.
import { type ChipiServerSDK, createClient } from "starknet-session-keys/promise"
import { STARKNET_CONTRACTS } from "starknet-session-keys/promise"

async function timeboxedSendOnUsersBehalf(
  sdk: ChipiServerSDK,
  userPin: string,
  userWallet: { publicKey: string; encryptedPrivateKey: string },
  recipient: string,
  amountUsdc: bigint, // raw units (6 decimals)
) {
  // 1. Create + register a 1-hour session
  const session = sdk.sessions.createSessionKey({
    encryptKey: userPin,
    durationSeconds: 3600,
  });

  const registerTxHash = await sdk.sessions.addSessionKeyToContract(
    {
      encryptKey: userPin,
      wallet: userWallet,
      sessionConfig: {
        sessionPublicKey: session.publicKey,
        validUntil: session.validUntil,
        maxCalls: 1,
        allowedEntrypoints: [],
      },
    },
    process.env.CHIPI_SECRET_KEY!,
  );

  // 2. Wait for the register tx to confirm before executing — otherwise
  //    the session may not yet be active on-chain.
  await waitForTxConfirmed(sdk, registerTxHash);

  // 3. Use the session to send
  const usdc = STARKNET_CONTRACTS["USDC"];
  const txHash = await sdk.executeTransactionWithSession({
    params: {
      encryptKey: userPin,
      wallet: userWallet,
      session,
      calls: [
        {
          contractAddress: usdc.contractAddress,
          entrypoint: "transfer",
          calldata: [recipient, "0x" + amountUsdc.toString(16), "0x0"],
        },
      ],
    },
  });

  // 4. Revoke immediately
  await sdk.sessions.revokeSessionKey(
    {
      encryptKey: userPin,
      wallet: userWallet,
      sessionPublicKey: session.publicKey,
    },
    process.env.CHIPI_SECRET_KEY!,
  );

  return txHash;
}

// Helper: poll Starknet until a tx reaches a terminal status.
// Starknet blocks settle in ~20-40s, so plan for up to ~60s in practice.
async function waitForTxConfirmed(sdk: ChipiServerSDK, txHash: string) {
  const deadline = Date.now() + 90_000; // 90s budget
  while (Date.now() < deadline) {
    const status = await sdk.getTransactionStatus({ txHash });
    if (status.executionStatus === "SUCCEEDED") return;
    if (status.executionStatus === "REVERTED") {
      throw new Error(`tx ${txHash} reverted`);
    }
    await new Promise((r) => setTimeout(r, 3_000));
  }
  throw new Error(`tx ${txHash} did not confirm within 90s`);
}

/**
 * Runs the guide's function on a fresh embedded devnet and reports what happened. `blockTime`: the devnet's (its
 * default is 100 ms; the network closes a block every ~2 s when idle and up to ~9.5 s under load).
 */
export async function main(blockTime?: `${number} seconds` | `${number} millis`) {
  const sdk = createClient(blockTime === undefined ? undefined : { devnet: { blockTime } });
  try {
    const userPin = "2468";
    const userWallet = await sdk.devnet!.createWallet({ encryptKey: userPin, fund: { USDC: 5_000_000n } });
    const recipient = "0x7ec1919e47";
    const txHash = await timeboxedSendOnUsersBehalf(sdk, userPin, userWallet, recipient, 1_000n);
    const receipt = await sdk.waitForTransaction(txHash);
    const devnet = await sdk.devnet!.handle();
    return {
      txHash,
      receipt,
      walletBalance: await sdk.runtime.runPromise(devnet.balanceOf(STARKNET_CONTRACTS.USDC.contractAddress, userWallet.publicKey)),
      recipientBalance: await sdk.runtime.runPromise(devnet.balanceOf(STARKNET_CONTRACTS.USDC.contractAddress, recipient)),
    };
  } finally {
    await sdk.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then((r) => console.log(`sent: ${r.txHash} (${r.receipt.executionStatus})`));
}
