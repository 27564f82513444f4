// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {IBridge} from "./IBridge.sol";

/// @title Bridge: the Kaimeng ZK rollup's bridge on shard 0
/// @notice This contract owns:
///  - the ether escrowed for the rollup (L2): every L2 balance and every unexecuted deposit,
///    in units of 1 gwei;
///  - the priority queue: deposits and forced withdrawals the sequencer must include, in
///    order, each with the queue hash after it (folded natively, so it is the hash the chunk
///    circuit proves) and an expiry;
///  - the binding of L2 account indices to (L2 key, L1 address) pairs;
///  - the chain of batches: committed by the sequencer, verified against their proofs by
///    anyone with each proof's IPA claim taken as given, those claims decided for many batches
///    at once by anyone (ADR 0114), executed by anyone (which makes their withdrawals
///    claimable);
///  - exodus: if the oldest unexecuted request expires, batches stop, and every account can
///    leave with its balance at the last executed root, and every unexecuted deposit can be
///    taken back.
/// @dev Genesis places the runtime code at a fixed address: no constructor runs and there are
/// no immutables. The only configuration is storage slot 0 (`sequencer`) and slot 1
/// (`priorityExpiry`), so they MUST stay the first two state variables. Uses the native calls
/// of shard 0 at 0x0b01 (batch verify), 0x0b02 (account claim), 0x0b03 (priority fold) and
/// 0x0b04 (claim decider), which answer malformed input with empty output.
contract Bridge is IBridge {
    // ------------------------------------------------------------------ settings (genesis)

    /// @inheritdoc IBridge
    address public sequencer; // slot 0
    /// @inheritdoc IBridge
    uint256 public priorityExpiry; // slot 1

    // ------------------------------------------------------------------ constants

    /// @inheritdoc IBridge
    uint256 public constant UNIT = 1 gwei;
    /// @inheritdoc IBridge
    uint32 public constant FEE_ACCOUNT = 0;
    /// @inheritdoc IBridge
    bytes32 public constant EMPTY_ROOT = 0x067a954526685694a3effd2364c0fd525a024c5ce34e6b30d0a75dc6ba54c712;
    /// @inheritdoc IBridge
    uint256 public constant MAX_DEPOSIT_UNITS = 2 ** 40 - 1;
    /// @inheritdoc IBridge
    uint256 public constant MAX_ESCROW_UNITS = 2 ** 63;
    /// @inheritdoc IBridge
    uint256 public constant MAX_CHUNKS = 64;

    address private constant VERIFY_BATCH = address(0x0b01);
    address private constant ACCOUNT_CLAIM = address(0x0b02);
    address private constant PRIORITY_FOLD = address(0x0b03);
    address private constant DECIDE_CLAIMS = address(0x0b04);

    uint8 private constant KIND_TRANSFER = 1;
    uint8 private constant KIND_WITHDRAW = 2;
    uint8 private constant KIND_DEPOSIT = 3;
    uint8 private constant KIND_FORCED_EXIT = 4;

    // Published bytes of each slot kind.
    uint256 private constant TRANSFER_BYTES = 16; // kind, from(4), to(4), amount(5), fee(2)
    uint256 private constant WITHDRAW_BYTES = 32; // kind, account(4), amount(5), fee(2), l1(20)
    uint256 private constant DEPOSIT_BYTES = 13; // kind, account(4), amount(8)
    uint256 private constant FORCED_EXIT_BYTES = 33; // kind, account(4), amount(8), l1(20)

    // ------------------------------------------------------------------ state

    /// @dev A withdrawal a batch pays when executed.
    struct Withdrawal {
        address l1;
        uint64 amount; // units
    }

    /// @dev A committed batch.
    struct Batch {
        bytes32 dataHash;
        bytes32 finalRoot;
        bytes32 finalQueueHash;
        uint64 firstPriority;
        uint64 priorityCount;
        Withdrawal[] withdrawals;
        bytes32 claimsHash; // keccak256 of the IPA claims its verification took as given
    }

    /// @dev A claim decision split into steps, under way (ADR 0114).
    struct Decision {
        uint64 lastBatch;
        uint32 steps; // 0: none under way
        uint32 nextStep;
        bytes32 partialSum; // the decider's partial sum after the steps done
    }

    /// @dev The L2 account of a (key, L1 address) pair.
    struct AccountBinding {
        bool assigned;
        uint32 index;
    }

    /// @inheritdoc IBridge
    uint64 public head;
    /// @inheritdoc IBridge
    uint64 public tail;
    /// @inheritdoc IBridge
    uint64 public committedTail;
    /// @inheritdoc IBridge
    uint64 public lastCommitted;
    /// @inheritdoc IBridge
    uint64 public lastVerified;
    /// @inheritdoc IBridge
    uint64 public lastExecuted;
    /// @inheritdoc IBridge
    bool public exodus;
    /// @inheritdoc IBridge
    bool public feeAccountAssigned;
    /// @dev Accounts given to pairs other than the sequencer's first (indices 1..issued).
    uint32 private _issuedAccounts;
    /// @inheritdoc IBridge
    uint256 public totalEscrowUnits;
    /// @inheritdoc IBridge
    uint64 public lastDecided;

    Decision private _decision;

    mapping(uint64 => PriorityRequest) private _requests;
    mapping(uint64 => Batch) private _batches;
    mapping(bytes32 => AccountBinding) private _accounts;

    /// @inheritdoc IBridge
    mapping(address => uint256) public claimable;
    /// @inheritdoc IBridge
    mapping(uint32 => bool) public exited;
    /// @inheritdoc IBridge
    mapping(uint64 => bool) public reclaimed;

    bool private transient _locked;

    // ------------------------------------------------------------------ modifiers

    modifier nonReentrant() {
        if (_locked) revert Reentrancy();
        _locked = true;
        _;
        _locked = false;
    }

    modifier onlySequencer() {
        if (msg.sender != sequencer) revert NotSequencer();
        _;
    }

    modifier notInExodus() {
        if (exodus) revert InExodus();
        _;
    }

    modifier onlyInExodus() {
        if (!exodus) revert NotInExodus();
        _;
    }

    // ------------------------------------------------------------------ priority requests

    /// @inheritdoc IBridge
    /// @dev msg.value must be a positive multiple of UNIT of at most MAX_DEPOSIT_UNITS units,
    /// and keep the escrow below MAX_ESCROW_UNITS. The sequencer's first pair gets account 0
    /// (the fee account); everyone else's new pairs get 1, 2, ...
    function deposit(bytes32 l2PublicKey)
        external
        payable
        nonReentrant
        notInExodus
        returns (uint64 requestId, uint32 account)
    {
        uint64 amount = _depositUnits(msg.value);
        totalEscrowUnits += amount;
        account = _accountFor(l2PublicKey, msg.sender);
        (bytes32 queueHashAfter,) = _fold(KIND_DEPOSIT, account, amount, msg.sender, l2PublicKey);
        uint64 expiry;
        (requestId, expiry) = _enqueue(queueHashAfter, msg.sender, account, amount, KIND_DEPOSIT);
        emit Deposit(requestId, account, msg.sender, l2PublicKey, amount, queueHashAfter, expiry);
    }

    /// @inheritdoc IBridge
    /// @dev On L2 the exit pays nothing unless `account` is bound to msg.sender.
    function requestForcedWithdrawal(uint32 account) external nonReentrant notInExodus returns (uint64 requestId) {
        (bytes32 queueHashAfter,) = _fold(KIND_FORCED_EXIT, account, 0, msg.sender, bytes32(0));
        uint64 expiry;
        (requestId, expiry) = _enqueue(queueHashAfter, msg.sender, account, 0, KIND_FORCED_EXIT);
        emit ForcedWithdrawalRequested(requestId, account, msg.sender, queueHashAfter, expiry);
    }

    // ------------------------------------------------------------------ batches

    /// @inheritdoc IBridge
    /// @dev Chunk i's published data is `chunkData[i]`; the L2 root and queue hash after it are
    /// `chunkRoots[i]` and `chunkQueues[i]`. Every slot is parsed: priority slots (deposits,
    /// forced exits) must be the next uncommitted requests in order, and the final queue hash
    /// must be the one the last of them leads to. Withdrawals and forced exits with a positive
    /// amount are recorded to be paid on execution.
    function commitBatch(
        uint64 batchNumber,
        bytes[] calldata chunkData,
        bytes32[] calldata chunkRoots,
        bytes32[] calldata chunkQueues
    ) external nonReentrant onlySequencer notInExodus {
        if (batchNumber != lastCommitted + 1) revert BatchOutOfOrder(lastCommitted + 1, batchNumber);
        uint256 chunks = chunkData.length;
        if (chunks == 0 || chunks > MAX_CHUNKS) revert BadChunkCount(chunks);
        if (chunkRoots.length != chunks || chunkQueues.length != chunks) revert LengthMismatch();

        Batch storage b = _batches[batchNumber];
        uint64 first = committedTail;
        uint64 next = first;
        for (uint256 c = 0; c < chunks; ++c) {
            next = _parseChunk(c, chunkData[c], next, b.withdrawals);
        }

        bytes32 finalQueueHash = chunkQueues[chunks - 1];
        bytes32 expected = next == first ? _committedQueueHash() : _requests[next - 1].queueHashAfter;
        if (finalQueueHash != expected) revert QueueHashMismatch(expected, finalQueueHash);

        b.dataHash = _dataHash(chunkData, chunkRoots, chunkQueues);
        b.finalRoot = chunkRoots[chunks - 1];
        b.finalQueueHash = finalQueueHash;
        b.firstPriority = first;
        b.priorityCount = next - first;
        committedTail = next;
        lastCommitted = batchNumber;
        emit BatchCommitted(batchNumber, b.finalRoot, finalQueueHash, next - first, b.withdrawals.length);
    }

    /// @inheritdoc IBridge
    /// @dev Newest first, so `committedTail` ends at the first request of the oldest batch
    /// reverted. The requests themselves, their expiry included, are untouched.
    function revertBatches(uint64 newLastCommitted) external nonReentrant onlySequencer notInExodus {
        uint64 committed = lastCommitted;
        if (newLastCommitted < lastVerified || newLastCommitted >= committed) {
            revert BadRevert(lastVerified, committed, newLastCommitted);
        }
        for (uint64 n = committed; n > newLastCommitted; --n) {
            uint64 firstPriority = _batches[n].firstPriority;
            committedTail = firstPriority;
            delete _batches[n];
            emit BatchReverted(n, firstPriority);
        }
        lastCommitted = newLastCommitted;
    }

    /// @inheritdoc IBridge
    /// @dev `proofs[i]` proves chunk i, or is empty when the proof before it covers chunk i
    /// too (a pack, ADR 0114). The batch verifier gets this chain's id, the fee account, the
    /// previous batch's final root and queue hash (EMPTY_ROOT and 0 for batch 1), every chunk
    /// and the claims, and must answer with the batch's committed final root and queue hash.
    /// It is called with all remaining gas.
    function verifyBatch(
        uint64 batchNumber,
        bytes[] calldata chunkData,
        bytes32[] calldata chunkRoots,
        bytes32[] calldata chunkQueues,
        bytes[] calldata proofs,
        bytes calldata claims
    ) external nonReentrant notInExodus {
        if (batchNumber != lastVerified + 1) revert BatchOutOfOrder(lastVerified + 1, batchNumber);
        if (batchNumber > lastCommitted) revert BatchNotCommitted(batchNumber);
        if (proofs.length != chunkData.length) revert LengthMismatch();
        if (_dataHash(chunkData, chunkRoots, chunkQueues) != _batches[batchNumber].dataHash) {
            revert BatchDataMismatch(batchNumber);
        }
        bytes memory input;
        {
            uint256 ptr;
            (input, ptr) = _verifyInput(batchNumber - 1, chunkData, chunkRoots, chunkQueues, proofs, claims.length);
            _putBytes(ptr, claims);
        }
        _acceptVerification(batchNumber, input, claims);
    }

    /// @dev Calls the batch verifier on `input`; marks the batch verified if it proves the
    /// committed final root and queue hash.
    function _acceptVerification(uint64 batchNumber, bytes memory input, bytes calldata claims) private {
        (bool ok, bytes memory output) = VERIFY_BATCH.staticcall{gas: gasleft()}(input);
        if (!ok || output.length != 64) revert ProofRejected(batchNumber);
        (bytes32 root, bytes32 queue) = abi.decode(output, (bytes32, bytes32));
        Batch storage b = _batches[batchNumber];
        if (root != b.finalRoot || queue != b.finalQueueHash) revert ProofRejected(batchNumber);

        b.claimsHash = keccak256(claims);
        lastVerified = batchNumber;
        emit BatchVerified(batchNumber, root, queue, claims);
    }

    /// @inheritdoc IBridge
    /// @dev The decider gets the step count, the step, the partial sum so far and every claim
    /// concatenated. It answers the next partial sum, or at the last step one word: 1 if all
    /// claims hold, 0 if one is false. No answer (malformed claims, a step count it refuses,
    /// or too little gas) reverts, so a caller cannot drop verifications by starving the
    /// decider.
    function decideBatches(uint64 lastBatch, bytes[] calldata claims, uint32 steps)
        external
        nonReentrant
        notInExodus
    {
        Decision memory d = _decision;
        if (d.steps == 0) {
            if (lastBatch <= lastDecided || lastBatch > lastVerified) revert BatchNotVerified(lastBatch);
            d = Decision(lastBatch, steps, 0, bytes32(0));
        } else if (lastBatch != d.lastBatch || steps != d.steps) {
            revert DecisionInProgress(d.lastBatch, d.steps, d.nextStep);
        }
        uint64 first = lastDecided + 1;
        bytes32 answer = _decideStep(d, first, claims);
        if (d.nextStep + 1 < d.steps) {
            _decision = Decision(lastBatch, steps, d.nextStep + 1, answer);
            emit DecisionStepped(first, lastBatch, d.nextStep, steps);
            return;
        }
        delete _decision;
        if (uint256(answer) == 1) {
            lastDecided = lastBatch;
            emit BatchesDecided(first, lastBatch);
        } else {
            lastVerified = lastDecided;
            emit ClaimsRefused(first, lastBatch);
        }
    }

    /// @dev Checks `claims` against the verifications of batches `first` to `d.lastBatch` and
    /// runs the decider's step `d.nextStep`; its 32-byte answer.
    function _decideStep(Decision memory d, uint64 first, bytes[] calldata claims) private view returns (bytes32) {
        if (claims.length != d.lastBatch - first + 1) revert LengthMismatch();
        uint256 size = 3 * 32;
        for (uint64 n = first; n <= d.lastBatch; ++n) {
            bytes calldata batchClaims = claims[n - first];
            if (keccak256(batchClaims) != _batches[n].claimsHash) revert ClaimsMismatch(n);
            size += batchClaims.length;
        }
        bytes memory input = new bytes(size);
        uint256 ptr;
        assembly ("memory-safe") {
            ptr := add(input, 32)
        }
        ptr = _putWord(ptr, bytes32(uint256(d.steps)));
        ptr = _putWord(ptr, bytes32(uint256(d.nextStep)));
        ptr = _putWord(ptr, d.partialSum);
        for (uint256 i = 0; i < claims.length; ++i) {
            ptr = _putRaw(ptr, claims[i]);
        }
        (bool ok, bytes memory output) = DECIDE_CLAIMS.staticcall{gas: gasleft()}(input);
        if (!ok || output.length != 32) revert DeciderFailed();
        return bytes32(output);
    }

    /// @inheritdoc IBridge
    function decision() external view returns (uint64 lastBatch, uint32 steps, uint32 nextStep) {
        Decision storage d = _decision;
        return (d.lastBatch, d.steps, d.nextStep);
    }

    /// @inheritdoc IBridge
    /// @dev Moves the executed root to the batch's final root, marks its priority requests
    /// done, and credits its withdrawals to `claimable`.
    function executeBatch(uint64 batchNumber) external nonReentrant notInExodus {
        if (batchNumber != lastExecuted + 1) revert BatchOutOfOrder(lastExecuted + 1, batchNumber);
        if (batchNumber > lastVerified) revert BatchNotVerified(batchNumber);
        if (batchNumber > lastDecided) revert BatchNotDecided(batchNumber);
        Batch storage b = _batches[batchNumber];

        lastExecuted = batchNumber;
        uint64 newHead = head + b.priorityCount;
        head = newHead;
        Withdrawal[] storage withdrawals = b.withdrawals;
        uint256 count = withdrawals.length;
        for (uint256 i = 0; i < count; ++i) {
            Withdrawal storage w = withdrawals[i];
            _release(w.amount);
            uint256 value = uint256(w.amount) * UNIT;
            claimable[w.l1] += value;
            emit WithdrawalClaimable(batchNumber, w.l1, value);
        }
        emit BatchExecuted(batchNumber, b.finalRoot, newHead);
    }

    /// @inheritdoc IBridge
    function claimWithdrawal(address payable to) external nonReentrant {
        uint256 value = claimable[to];
        if (value == 0) revert NothingToClaim(to);
        claimable[to] = 0;
        emit WithdrawalClaimed(to, value);
        _pay(to, value);
    }

    // ------------------------------------------------------------------ exodus

    /// @inheritdoc IBridge
    /// @dev Possible when the oldest unexecuted request's expiry has passed.
    function activateExodus() external nonReentrant notInExodus {
        uint64 oldest = head;
        if (oldest >= tail || _requests[oldest].expiry >= block.timestamp) revert NoExpiredRequest();
        exodus = true;
        emit ExodusActivated(oldest);
    }

    /// @inheritdoc IBridge
    /// @dev The leaf (`keyCommitment`, `l1`, `balance`, `nonce`) at index `account` must sit
    /// under lastExecutedRoot with the given siblings (leaf upwards). Anyone may submit it;
    /// the balance always goes to the leaf's `l1`.
    function exit(
        uint32 account,
        bytes32 keyCommitment,
        address l1,
        uint64 balance,
        uint32 nonce,
        bytes32[32] calldata siblings
    ) external nonReentrant onlyInExodus {
        if (exited[account]) revert AlreadyExited(account);
        if (!_claimHolds(account, keyCommitment, l1, balance, nonce, siblings)) revert InvalidAccountProof(account);
        exited[account] = true;
        _release(balance);
        uint256 value = uint256(balance) * UNIT;
        emit Exit(account, l1, balance, value);
        _pay(l1, value);
    }

    /// @inheritdoc IBridge
    /// @dev Anyone may trigger it; the deposit always goes back to its depositor.
    function reclaimDeposit(uint64 requestId) external nonReentrant onlyInExodus {
        PriorityRequest storage r = _requests[requestId];
        if (requestId < head || requestId >= tail || r.kind != KIND_DEPOSIT) revert NotReclaimable(requestId);
        if (reclaimed[requestId]) revert AlreadyReclaimed(requestId);
        reclaimed[requestId] = true;
        _release(r.amount);
        uint256 value = uint256(r.amount) * UNIT;
        address l1 = r.l1;
        emit DepositReclaimed(requestId, r.account, l1, value);
        _pay(l1, value);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IBridge
    function lastExecutedRoot() public view returns (bytes32) {
        uint64 executed = lastExecuted;
        return executed == 0 ? EMPTY_ROOT : _batches[executed].finalRoot;
    }

    /// @inheritdoc IBridge
    function queueHash() public view returns (bytes32) {
        uint64 next = tail;
        return next == 0 ? bytes32(0) : _requests[next - 1].queueHashAfter;
    }

    /// @inheritdoc IBridge
    function request(uint64 requestId) external view returns (PriorityRequest memory) {
        if (requestId >= tail) revert UnknownRequest(requestId);
        return _requests[requestId];
    }

    /// @inheritdoc IBridge
    function accountOf(bytes32 l2PublicKey, address l1) external view returns (bool assigned, uint32 account) {
        AccountBinding storage binding = _accounts[_pairKey(l2PublicKey, l1)];
        return (binding.assigned, binding.index);
    }

    /// @inheritdoc IBridge
    function nextAccountIndex() external view returns (uint32) {
        return _issuedAccounts + 1;
    }

    /// @inheritdoc IBridge
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
        )
    {
        Batch storage b = _batches[batchNumber];
        return (b.dataHash, b.finalRoot, b.finalQueueHash, b.firstPriority, b.priorityCount, b.withdrawals.length);
    }

    /// @inheritdoc IBridge
    function batchWithdrawal(uint64 batchNumber, uint256 index) external view returns (address l1, uint64 amount) {
        Withdrawal storage w = _batches[batchNumber].withdrawals[index];
        return (w.l1, w.amount);
    }

    // ------------------------------------------------------------------ deposits

    /// @dev The units `value` wei deposits, under the deposit and escrow bounds.
    function _depositUnits(uint256 value) private view returns (uint64) {
        if (value == 0) revert ZeroDeposit();
        if (value % UNIT != 0) revert NotUnitMultiple(value);
        uint256 units = value / UNIT;
        if (units > MAX_DEPOSIT_UNITS) revert DepositTooLarge(units);
        if (totalEscrowUnits + units >= MAX_ESCROW_UNITS) revert EscrowFull(totalEscrowUnits, units);
        return uint64(units);
    }

    /// @dev The account bound to (`l2PublicKey`, `l1`), binding the next index if there is none.
    function _accountFor(bytes32 l2PublicKey, address l1) private returns (uint32) {
        AccountBinding storage binding = _accounts[_pairKey(l2PublicKey, l1)];
        if (binding.assigned) return binding.index;
        uint32 index;
        if (l1 == sequencer && !feeAccountAssigned) {
            feeAccountAssigned = true;
            index = FEE_ACCOUNT;
        } else {
            uint32 issued = _issuedAccounts;
            if (issued == type(uint32).max) revert AccountSpaceFull();
            index = issued + 1;
            _issuedAccounts = index;
        }
        binding.assigned = true;
        binding.index = index;
        return index;
    }

    function _pairKey(bytes32 l2PublicKey, address l1) private pure returns (bytes32) {
        return keccak256(abi.encode(l2PublicKey, l1));
    }

    // ------------------------------------------------------------------ priority queue

    /// @dev Folds a request onto the queue hash after the last one. Returns the new queue hash
    /// and the request's key commitment; reverts if the fold refuses the request.
    function _fold(uint8 kind, uint32 account, uint64 amount, address l1, bytes32 l2PublicKey)
        private
        view
        returns (bytes32 queueHashAfter, bytes32 keyCommitment)
    {
        bytes memory input = abi.encodePacked(
            uint256(kind), queueHash(), uint256(account), uint256(amount), uint256(uint160(l1)), l2PublicKey
        );
        (bool ok, bytes memory output) = PRIORITY_FOLD.staticcall(input);
        if (!ok || output.length != 64) revert BadL2Key(l2PublicKey);
        return abi.decode(output, (bytes32, bytes32));
    }

    /// @dev Appends a request expiring priorityExpiry seconds from now (saturating).
    function _enqueue(bytes32 queueHashAfter, address l1, uint32 account, uint64 amount, uint8 kind)
        private
        returns (uint64 requestId, uint64 expiry)
    {
        uint256 wait = priorityExpiry;
        uint256 max = type(uint64).max;
        expiry = wait >= max - block.timestamp ? type(uint64).max : uint64(block.timestamp + wait);
        requestId = tail;
        _requests[requestId] = PriorityRequest({
            queueHashAfter: queueHashAfter, expiry: expiry, l1: l1, account: account, amount: amount, kind: kind
        });
        tail = requestId + 1;
    }

    /// @dev The queue hash after the last committed batch (0 before the first).
    function _committedQueueHash() private view returns (bytes32) {
        uint64 committed = lastCommitted;
        return committed == 0 ? bytes32(0) : _batches[committed].finalQueueHash;
    }

    // ------------------------------------------------------------------ published data

    /// @dev Parses chunk `chunk`'s published data. Priority slots must match the requests from
    /// `next` on; returns the request after the last one matched. Withdrawals and forced exits
    /// with a positive amount are appended to `withdrawals`.
    function _parseChunk(uint256 chunk, bytes calldata data, uint64 next, Withdrawal[] storage withdrawals)
        private
        returns (uint64)
    {
        uint256 at = 0;
        while (at < data.length) {
            uint8 kind = uint8(data[at]);
            uint256 size = _slotBytes(kind);
            if (size == 0) revert InvalidSlotKind(chunk, at, kind);
            if (data.length - at < size) revert TruncatedSlot(chunk, at);
            if (kind == KIND_WITHDRAW) {
                // kind, account(4), amount(5), fee(2), l1(20)
                _recordWithdrawal(withdrawals, _address(data, at + 12), uint64(_uint(data, at + 5, 5)));
            } else if (kind == KIND_DEPOSIT || kind == KIND_FORCED_EXIT) {
                // kind, account(4), amount(8)[, l1(20)]
                if (next >= tail) revert TooManyPrioritySlots(chunk, at);
                uint32 account = uint32(_uint(data, at + 1, 4));
                uint64 amount = uint64(_uint(data, at + 5, 8));
                address l1 = kind == KIND_FORCED_EXIT ? _address(data, at + 13) : address(0);
                if (!_matchesRequest(_requests[next], kind, account, amount, l1)) {
                    revert PrioritySlotMismatch(chunk, at, next);
                }
                if (kind == KIND_FORCED_EXIT) _recordWithdrawal(withdrawals, l1, amount);
                ++next;
            }
            at += size;
        }
        return next;
    }

    /// @dev Published bytes of a slot of `kind`; 0 for a kind that publishes no slot.
    function _slotBytes(uint8 kind) private pure returns (uint256) {
        if (kind == KIND_TRANSFER) return TRANSFER_BYTES;
        if (kind == KIND_WITHDRAW) return WITHDRAW_BYTES;
        if (kind == KIND_DEPOSIT) return DEPOSIT_BYTES;
        if (kind == KIND_FORCED_EXIT) return FORCED_EXIT_BYTES;
        return 0;
    }

    /// @dev Whether a priority slot is request `r`: same kind and account, and the deposit's
    /// amount or the forced exit's L1 address.
    function _matchesRequest(PriorityRequest storage r, uint8 kind, uint32 account, uint64 amount, address l1)
        private
        view
        returns (bool)
    {
        if (r.kind != kind || r.account != account) return false;
        return kind == KIND_DEPOSIT ? r.amount == amount : r.l1 == l1;
    }

    function _recordWithdrawal(Withdrawal[] storage withdrawals, address l1, uint64 amount) private {
        if (amount != 0) withdrawals.push(Withdrawal({l1: l1, amount: amount}));
    }

    /// @dev The `len`-byte big-endian integer at `at` (the caller has bounds-checked it).
    function _uint(bytes calldata data, uint256 at, uint256 len) private pure returns (uint256) {
        return uint256(bytes32(data[at:at + len])) >> (256 - 8 * len);
    }

    function _address(bytes calldata data, uint256 at) private pure returns (address) {
        return address(uint160(_uint(data, at, 20)));
    }

    // ------------------------------------------------------------------ verification

    function _dataHash(bytes[] calldata chunkData, bytes32[] calldata chunkRoots, bytes32[] calldata chunkQueues)
        private
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(chunkData, chunkRoots, chunkQueues));
    }

    /// @dev The batch verifier's input for the batch after batch `previous`:
    /// chainId | feeAccount | oldRoot | queueBefore | chunkCount |
    /// per chunk: newRoot | queueAfter | dataLength | data | proofLength | proof |
    /// claimsLength | claims. The claims (`claimsLength` bytes) are left for the caller to write
    /// at `ptr`.
    function _verifyInput(
        uint64 previous,
        bytes[] calldata chunkData,
        bytes32[] calldata chunkRoots,
        bytes32[] calldata chunkQueues,
        bytes[] calldata proofs,
        uint256 claimsLength
    ) private view returns (bytes memory input, uint256 ptr) {
        input = new bytes(_verifyInputSize(chunkData, proofs, claimsLength));
        assembly ("memory-safe") {
            ptr := add(input, 32)
        }
        ptr = _putWord(ptr, bytes32(block.chainid));
        ptr = _putWord(ptr, bytes32(uint256(FEE_ACCOUNT)));
        ptr = _putWord(ptr, previous == 0 ? EMPTY_ROOT : _batches[previous].finalRoot);
        ptr = _putWord(ptr, _batches[previous].finalQueueHash); // 0 for batch 0
        ptr = _putWord(ptr, bytes32(chunkData.length));
        for (uint256 c = 0; c < chunkData.length; ++c) {
            ptr = _putWord(ptr, chunkRoots[c]);
            ptr = _putWord(ptr, chunkQueues[c]);
            ptr = _putBytes(ptr, chunkData[c]);
            ptr = _putBytes(ptr, proofs[c]);
        }
    }

    function _verifyInputSize(bytes[] calldata chunkData, bytes[] calldata proofs, uint256 claimsLength)
        private
        pure
        returns (uint256 size)
    {
        size = 6 * 32 + claimsLength;
        for (uint256 c = 0; c < chunkData.length; ++c) {
            size += 4 * 32 + chunkData[c].length + proofs[c].length;
        }
    }

    function _putWord(uint256 ptr, bytes32 word) private pure returns (uint256) {
        assembly ("memory-safe") {
            mstore(ptr, word)
        }
        return ptr + 32;
    }

    /// @dev Writes the bytes unpadded.
    function _putRaw(uint256 ptr, bytes calldata data) private pure returns (uint256) {
        assembly ("memory-safe") {
            calldatacopy(ptr, data.offset, data.length)
        }
        return ptr + data.length;
    }

    /// @dev Writes a length word, then the bytes unpadded.
    function _putBytes(uint256 ptr, bytes calldata data) private pure returns (uint256) {
        return _putRaw(_putWord(ptr, bytes32(data.length)), data);
    }

    // ------------------------------------------------------------------ exodus and payments

    /// @dev Whether the account claim holds under the last executed root.
    function _claimHolds(
        uint32 account,
        bytes32 keyCommitment,
        address l1,
        uint64 balance,
        uint32 nonce,
        bytes32[32] calldata siblings
    ) private view returns (bool) {
        bytes memory input = abi.encodePacked(
            lastExecutedRoot(),
            uint256(account),
            keyCommitment,
            uint256(uint160(l1)),
            uint256(balance),
            uint256(nonce),
            siblings
        );
        (bool ok, bytes memory output) = ACCOUNT_CLAIM.staticcall(input);
        return ok && output.length == 32 && abi.decode(output, (uint256)) == 1;
    }

    /// @dev Takes `units` out of the escrow.
    function _release(uint64 units) private {
        totalEscrowUnits -= units;
    }

    function _pay(address to, uint256 value) private {
        if (value == 0) return;
        (bool ok,) = payable(to).call{value: value}("");
        if (!ok) revert PaymentFailed(to, value);
    }
}
