// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @title IBridge: the rollup bridge on Kaimeng shard 0
/// @notice Deposits into and withdrawals out of the Kaimeng ZK rollup (L2), the batches the
/// sequencer commits, their proofs, and the exodus that lets everyone leave if the sequencer
/// stops processing priority requests. See contracts/rollup/README.md.
/// @dev Amounts on L2 are in units of 1 gwei (`UNIT`). Events carry L2 amounts in units and
/// payments in wei, as their parameter names say.
interface IBridge {
    // ------------------------------------------------------------------ types

    /// @notice A priority request: a deposit (kind 3) or a forced withdrawal (kind 4), which
    /// the sequencer must include in a batch, in order.
    /// @param queueHashAfter The priority-queue hash once this request is folded in.
    /// @param expiry When exodus may be activated if this request is still unexecuted.
    /// @param l1 The depositor (kind 3) or the requester, who receives the exit (kind 4).
    /// @param account The L2 account index.
    /// @param amount The deposit in units (kind 3); 0 for a forced withdrawal.
    /// @param kind 3 (deposit) or 4 (forced withdrawal).
    struct PriorityRequest {
        bytes32 queueHashAfter;
        uint64 expiry;
        address l1;
        uint32 account;
        uint64 amount;
        uint8 kind;
    }

    // ------------------------------------------------------------------ events

    /// @notice A deposit was queued for L2 account `account`.
    /// @param amount The deposit in L2 units (msg.value / UNIT).
    event Deposit(
        uint64 indexed requestId,
        uint32 indexed account,
        address indexed l1,
        bytes32 l2PublicKey,
        uint64 amount,
        bytes32 queueHashAfter,
        uint64 expiry
    );

    /// @notice `l1` asked that L2 account `account`'s whole balance be withdrawn to it (a no-op
    /// on L2 if the account is not bound to `l1`).
    event ForcedWithdrawalRequested(
        uint64 indexed requestId,
        uint32 indexed account,
        address indexed l1,
        bytes32 queueHashAfter,
        uint64 expiry
    );

    /// @notice The sequencer committed batch `batchNumber`, which executes `priorityCount`
    /// priority requests from `firstPriority` on and pays `withdrawalCount` withdrawals.
    event BatchCommitted(
        uint64 indexed batchNumber,
        bytes32 finalRoot,
        bytes32 finalQueueHash,
        uint64 priorityCount,
        uint256 withdrawalCount
    );

    /// @notice The sequencer reverted committed, unverified batch `batchNumber`: its data is
    /// forgotten and its priority requests (from `firstPriority` on) wait to be committed again.
    event BatchReverted(uint64 indexed batchNumber, uint64 firstPriority);

    /// @notice Batch `batchNumber`'s proofs verified.
    event BatchVerified(uint64 indexed batchNumber, bytes32 finalRoot, bytes32 finalQueueHash, bytes claims);

    /// @notice Batch `batchNumber` was executed: its root is the L2 state the bridge stands on,
    /// and the priority requests before `head` are done.
    event BatchExecuted(uint64 indexed batchNumber, bytes32 finalRoot, uint64 head);
    /// @notice The IPA claims of batches `first` to `last` were decided true: they may execute.
    event BatchesDecided(uint64 first, uint64 last);
    /// @notice Some IPA claim of batches `first` to `last` was false: their verification is
    /// dropped (`lastVerified` is back at `first - 1`), and they must be verified again.
    event ClaimsRefused(uint64 first, uint64 last);
    /// @notice Step `step` of the `steps` of deciding batches `first` to `last` is done; the
    /// decision goes on with the next call.
    event DecisionStepped(uint64 first, uint64 last, uint32 step, uint32 steps);

    /// @notice `value` wei became claimable by `l1`, from an L2 withdrawal or forced exit in
    /// batch `batchNumber`.
    event WithdrawalClaimable(uint64 indexed batchNumber, address indexed l1, uint256 value);

    /// @notice `value` wei claimable by `to` was paid to it.
    event WithdrawalClaimed(address indexed to, uint256 value);

    /// @notice The bridge entered exodus because request `requestId` expired unexecuted.
    event ExodusActivated(uint64 indexed requestId);

    /// @notice In exodus, L2 account `account`'s balance (`balance` units, `value` wei) at the
    /// last executed root was paid to `l1`.
    event Exit(uint32 indexed account, address indexed l1, uint64 balance, uint256 value);

    /// @notice In exodus, unexecuted deposit `requestId` (`value` wei) was paid back to `l1`.
    event DepositReclaimed(uint64 indexed requestId, uint32 indexed account, address indexed l1, uint256 value);

    // ------------------------------------------------------------------ errors

    /// @notice Only the sequencer may do this.
    error NotSequencer();
    /// @notice The bridge is in exodus: batches and new requests are closed.
    error InExodus();
    /// @notice Only possible in exodus.
    error NotInExodus();
    /// @notice A call into the bridge while it is already running.
    error Reentrancy();
    /// @notice A deposit of nothing.
    error ZeroDeposit();
    /// @notice msg.value is not a multiple of UNIT.
    error NotUnitMultiple(uint256 value);
    /// @notice A deposit above MAX_DEPOSIT_UNITS.
    error DepositTooLarge(uint256 units);
    /// @notice The deposit would take the escrow to MAX_ESCROW_UNITS or beyond.
    error EscrowFull(uint256 escrowUnits, uint256 units);
    /// @notice Every L2 account index is taken.
    error AccountSpaceFull();
    /// @notice The priority fold refused the request; for a deposit, the L2 key is not a
    /// compressed Pallas point.
    error BadL2Key(bytes32 l2PublicKey);
    /// @notice A batch has 1 to MAX_CHUNKS chunks.
    error BadChunkCount(uint256 count);
    /// @notice The per-chunk arrays differ in length.
    error LengthMismatch();
    /// @notice Chunk `chunk`'s data has an unknown slot kind byte at `offset`.
    error InvalidSlotKind(uint256 chunk, uint256 offset, uint8 kind);
    /// @notice Chunk `chunk`'s data ends inside the slot at `offset`.
    error TruncatedSlot(uint256 chunk, uint256 offset);
    /// @notice The batch has more priority slots than there are uncommitted requests.
    error TooManyPrioritySlots(uint256 chunk, uint256 offset);
    /// @notice The priority slot at `offset` of chunk `chunk` is not request `requestId`.
    error PrioritySlotMismatch(uint256 chunk, uint256 offset, uint64 requestId);
    /// @notice The batch's final queue hash is not the one its priority slots lead to.
    error QueueHashMismatch(bytes32 expected, bytes32 found);
    /// @notice Batches verify and execute in order: `expected` is next.
    error BatchOutOfOrder(uint64 expected, uint64 found);
    /// @notice The batch has not been committed.
    error BatchNotCommitted(uint64 batchNumber);
    /// @notice The batch has not been verified.
    error BatchNotVerified(uint64 batchNumber);
    /// @notice The batch's IPA claims are not decided yet.
    error BatchNotDecided(uint64 batchNumber);
    /// @notice `claims` for batch `batchNumber` are not those its verification stored.
    error ClaimsMismatch(uint64 batchNumber);
    /// @notice The decider failed to answer (malformed claims or out of gas).
    error DeciderFailed();
    /// @notice A decision of batches up to `lastBatch` in `steps` steps is under way; calls
    /// continue it until it ends.
    error DecisionInProgress(uint64 lastBatch, uint32 steps, uint32 nextStep);
    /// @notice The data given is not the data committed.
    error BatchDataMismatch(uint64 batchNumber);
    /// @notice A revert must keep every verified batch and drop at least one committed one.
    error BadRevert(uint64 lastVerified, uint64 lastCommitted, uint64 newLastCommitted);
    /// @notice The batch verifier refused the proofs.
    error ProofRejected(uint64 batchNumber);
    /// @notice There is no unexecuted priority request, or the oldest has not expired.
    error NoExpiredRequest();
    /// @notice This account has already exited.
    error AlreadyExited(uint32 account);
    /// @notice The account claim does not hold under the last executed root.
    error InvalidAccountProof(uint32 account);
    /// @notice Only an unexecuted deposit (head <= id < tail, kind 3) can be reclaimed.
    error NotReclaimable(uint64 requestId);
    /// @notice This deposit was already reclaimed.
    error AlreadyReclaimed(uint64 requestId);
    /// @notice Nothing is claimable by this address.
    error NothingToClaim(address to);
    /// @notice Sending ether to the recipient failed.
    error PaymentFailed(address to, uint256 value);
    /// @notice No priority request has this id.
    error UnknownRequest(uint64 requestId);

    // ------------------------------------------------------------------ priority requests

    /// @notice Deposits msg.value into the L2 account bound to (`l2PublicKey`, msg.sender),
    /// creating it on first use.
    /// @param l2PublicKey The account's L2 key: a 32-byte compressed Pallas point.
    /// @return requestId The priority request.
    /// @return account The L2 account index.
    function deposit(bytes32 l2PublicKey) external payable returns (uint64 requestId, uint32 account);

    /// @notice Asks that L2 account `account`'s whole balance be withdrawn to msg.sender.
    /// @return requestId The priority request.
    function requestForcedWithdrawal(uint32 account) external returns (uint64 requestId);

    // ------------------------------------------------------------------ batches

    /// @notice Commits batch `batchNumber`, which must be the next one (sequencer only), so a
    /// commit sent twice cannot land as two batches.
    function commitBatch(
        uint64 batchNumber,
        bytes[] calldata chunkData,
        bytes32[] calldata chunkRoots,
        bytes32[] calldata chunkQueues
    ) external;

    /// @notice Reverts the committed batches after `newLastCommitted`, none of them verified
    /// (sequencer only): for batches that cannot be proven, such as those whose signed
    /// operations were lost with the sequencer's journal. Their priority requests are committed
    /// again later; nothing they would have paid is paid.
    function revertBatches(uint64 newLastCommitted) external;

    /// @notice Verifies committed batch `batchNumber`'s proofs (anyone), with each proof's
    /// IPA claim taken as given; `claims` is every proof's claim, concatenated. The claims are
    /// decided later (`decideBatches`).
    function verifyBatch(
        uint64 batchNumber,
        bytes[] calldata chunkData,
        bytes32[] calldata chunkRoots,
        bytes32[] calldata chunkQueues,
        bytes[] calldata proofs,
        bytes calldata claims
    ) external;

    /// @notice Decides the IPA claims of the verified batches after `lastDecided` up to
    /// `lastBatch` at once (anyone); `claims[i]` are batch `lastDecided + 1 + i`'s, as its
    /// verification emitted them. If one is false, those verifications are dropped.
    /// A decision may be split into `steps` calls (a power of two the decider accepts), each
    /// with the same arguments, so that each fits a transaction: the first call fixes the
    /// batches and the step count, and the last one decides.
    function decideBatches(uint64 lastBatch, bytes[] calldata claims, uint32 steps) external;

    /// @notice Executes verified and decided batch `batchNumber` (anyone).
    function executeBatch(uint64 batchNumber) external;

    /// @notice Pays everything claimable by `to` to `to` (anyone may call).
    function claimWithdrawal(address payable to) external;

    // ------------------------------------------------------------------ exodus

    /// @notice Enters exodus if the oldest unexecuted priority request has expired (anyone).
    function activateExodus() external;

    /// @notice In exodus, pays an L2 account's balance at the last executed root to its L1
    /// address, once per account.
    function exit(
        uint32 account,
        bytes32 keyCommitment,
        address l1,
        uint64 balance,
        uint32 nonce,
        bytes32[32] calldata siblings
    ) external;

    /// @notice In exodus, pays an unexecuted deposit back to its depositor, once.
    function reclaimDeposit(uint64 requestId) external;

    // ------------------------------------------------------------------ views

    /// @notice The account allowed to commit batches (storage slot 0, set at genesis).
    function sequencer() external view returns (address);
    /// @notice Seconds a priority request may wait before exodus (storage slot 1, set at genesis).
    function priorityExpiry() external view returns (uint256);
    /// @notice Wei per L2 unit (1 gwei).
    function UNIT() external view returns (uint256);
    /// @notice The L2 account that receives fees.
    function FEE_ACCOUNT() external view returns (uint32);
    /// @notice The root of the empty L2 tree.
    function EMPTY_ROOT() external view returns (bytes32);
    /// @notice Largest deposit, in units.
    function MAX_DEPOSIT_UNITS() external view returns (uint256);
    /// @notice Bound on the units escrowed.
    function MAX_ESCROW_UNITS() external view returns (uint256);
    /// @notice Most chunks per batch.
    function MAX_CHUNKS() external view returns (uint256);
    /// @notice The last batch whose IPA claims were decided true.
    function lastDecided() external view returns (uint64);
    /// @notice The decision under way: its last batch, step count and next step (all zero if
    /// none).
    function decision() external view returns (uint64 lastBatch, uint32 steps, uint32 nextStep);

    /// @notice The first priority request not yet executed.
    function head() external view returns (uint64);
    /// @notice The id the next priority request gets.
    function tail() external view returns (uint64);
    /// @notice The first priority request no committed batch consumes.
    function committedTail() external view returns (uint64);
    /// @notice The last committed batch (0 before the first).
    function lastCommitted() external view returns (uint64);
    /// @notice The last verified batch.
    function lastVerified() external view returns (uint64);
    /// @notice The last executed batch.
    function lastExecuted() external view returns (uint64);
    /// @notice The final root of the last executed batch (EMPTY_ROOT before the first).
    function lastExecutedRoot() external view returns (bytes32);
    /// @notice The queue hash after the last priority request (0 before the first): what the
    /// next request folds onto.
    function queueHash() external view returns (bytes32);
    /// @notice Whether the bridge is in exodus.
    function exodus() external view returns (bool);
    /// @notice Units held for L2: every L2 balance and every unexecuted deposit.
    function totalEscrowUnits() external view returns (uint256);
    /// @notice Wei claimable by `l1` with claimWithdrawal.
    function claimable(address l1) external view returns (uint256);
    /// @notice Whether L2 account `account` has exited in exodus.
    function exited(uint32 account) external view returns (bool);
    /// @notice Whether deposit `requestId` was reclaimed in exodus.
    function reclaimed(uint64 requestId) external view returns (bool);
    /// @notice Priority request `requestId` (reverts if there is none).
    function request(uint64 requestId) external view returns (PriorityRequest memory);
    /// @notice The L2 account bound to (`l2PublicKey`, `l1`), if any.
    function accountOf(bytes32 l2PublicKey, address l1) external view returns (bool assigned, uint32 account);
    /// @notice The index the next new (key, sender) pair not from the sequencer gets.
    function nextAccountIndex() external view returns (uint32);
    /// @notice Whether the sequencer has taken account 0 (the fee account).
    function feeAccountAssigned() external view returns (bool);
    /// @notice Committed batch `batchNumber` (all zero if not committed).
    /// @return dataHash keccak256(abi.encode(chunkData, chunkRoots, chunkQueues)).
    /// @return finalRoot The L2 root after the batch.
    /// @return finalQueueHash The queue hash after the batch.
    /// @return firstPriority The first priority request the batch executes.
    /// @return priorityCount How many priority requests it executes.
    /// @return withdrawalCount How many withdrawals (positive amounts) it pays.
    function batch(uint64 batchNumber)
        external
        view
        returns (
            bytes32 dataHash,
            bytes32 finalRoot,
            bytes32 finalQueueHash,
            uint64 firstPriority,
            uint64 priorityCount,
            uint256 withdrawalCount
        );
    /// @notice Withdrawal `index` of batch `batchNumber`: its L1 recipient and units.
    function batchWithdrawal(uint64 batchNumber, uint256 index) external view returns (address l1, uint64 amount);
}
