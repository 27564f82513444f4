// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Bridge} from "../rollup/Bridge.sol";
import {IBridge} from "../rollup/IBridge.sol";

/// @dev The forge cheatcodes these tests use (forge-std is not available offline).
interface Vm {
    function etch(address target, bytes calldata code) external;
    function store(address target, bytes32 slot, bytes32 value) external;
    function load(address target, bytes32 slot) external view returns (bytes32);
    function warp(uint256 timestamp) external;
    function deal(address who, uint256 balance) external;
    function prank(address sender) external;
    function expectRevert(bytes calldata revertData) external;
    function expectEmit() external;
    function readFile(string calldata path) external view returns (string memory);
    function parseJsonBytes(string calldata json, string calldata key) external pure returns (bytes memory);
    function lastCallGas() external view returns (Gas memory);
}

/// @dev A measured gas figure outside the bound a test expects.
error GasOutsideBound(uint256 used);

/// @dev What `lastCallGas` reports of the last call.
struct Gas {
    uint64 gasLimit;
    uint64 gasTotalUsed;
    uint64 gasMemoryUsed;
    int64 gasRefunded;
    uint64 gasRemaining;
}

// ---------------------------------------------------------------------- mock precompiles

/// @dev Priority fold (0x0b03): the queue hash after is keccak256 of the whole input, the key
/// commitment keccak256 of the key. Refuses (empty output) a deposit with a zero key, a forced
/// exit with an amount or key, and anything malformed.
contract FoldMock {
    fallback(bytes calldata input) external returns (bytes memory) {
        if (input.length != 192) return "";
        uint256 kind = uint256(bytes32(input[0:32]));
        uint256 amount = uint256(bytes32(input[96:128]));
        bytes32 key = bytes32(input[160:192]);
        if (kind == 3 && key != 0 && amount < 2 ** 40) {
            return abi.encode(keccak256(input), keccak256(abi.encode(key)));
        }
        if (kind == 4 && key == 0 && amount == 0) return abi.encode(keccak256(input), bytes32(0));
        return "";
    }
}

/// @dev Account claim (0x0b02): a keccak Merkle tree. The leaf is keccak256 of the words
/// (index, key commitment, l1, balance, nonce); each level hashes (left, right).
contract ClaimMock {
    fallback(bytes calldata input) external returns (bytes memory) {
        if (input.length != 38 * 32) return "";
        bytes32 root = bytes32(input[0:32]);
        uint256 index = uint256(bytes32(input[32:64]));
        bytes32 node = keccak256(input[32:192]);
        for (uint256 h = 0; h < 32; ++h) {
            bytes32 sibling = bytes32(input[192 + 32 * h:224 + 32 * h]);
            node = (index >> h) & 1 == 0 ? keccak256(abi.encode(node, sibling)) : keccak256(abi.encode(sibling, node));
        }
        return node == root ? abi.encode(uint256(1)) : bytes("");
    }
}

/// @dev Batch verify (0x0b01): walks the input, and accepts a chunk's proof if it is
/// keccak256(abi.encode(oldRoot, queueBefore, newRoot, queueAfter, keccak256(data))) of the
/// chunk's place in the chain. Answers the last (root, queue) it was asked to prove, or empty
/// if anything is off or its storage slot 0 (the "refuse" flag) is set.
contract VerifyMock {
    fallback(bytes calldata input) external returns (bytes memory) {
        bool refuse;
        assembly {
            refuse := sload(0)
        }
        if (refuse || input.length < 160) return "";
        if (uint256(bytes32(input[0:32])) != block.chainid || uint256(bytes32(input[32:64])) != 0) return "";
        bytes32 root = bytes32(input[64:96]);
        bytes32 queue = bytes32(input[96:128]);
        uint256 chunks = uint256(bytes32(input[128:160]));
        uint256 at = 160;
        for (uint256 c = 0; c < chunks; ++c) {
            if (input.length < at + 96) return "";
            bytes32 newRoot = bytes32(input[at:at + 32]);
            bytes32 queueAfter = bytes32(input[at + 32:at + 64]);
            uint256 dataLength = uint256(bytes32(input[at + 64:at + 96]));
            at += 96;
            if (input.length < at + dataLength + 32) return "";
            bytes32 dataHash = keccak256(input[at:at + dataLength]);
            at += dataLength;
            uint256 proofLength = uint256(bytes32(input[at:at + 32]));
            at += 32;
            if (input.length < at + proofLength) return "";
            bytes32 expected = keccak256(abi.encode(root, queue, newRoot, queueAfter, dataHash));
            if (proofLength != 32 || bytes32(input[at:at + 32]) != expected) return "";
            at += proofLength;
            (root, queue) = (newRoot, queueAfter);
        }
        // The IPA claims the proofs were verified with: a length word, then the bytes.
        if (input.length < at + 32) return "";
        uint256 claimsLength = uint256(bytes32(input[at:at + 32]));
        if (at + 32 + claimsLength != input.length) return "";
        return abi.encode(root, queue);
    }
}

/// @dev Claim decider (0x0b04), one step of a decision: input is steps | step | partial |
/// claims. A step before the last answers the next link of a hash chain over the claims; the
/// last checks that the partial sum it got is the chain's (so the bridge carried each answer
/// on) and answers 1 (every claim holds), or 0 if its storage slot 0 (the "false claim" flag)
/// is set. Empty for no claims or bad step arguments.
contract DecideMock {
    fallback(bytes calldata input) external returns (bytes memory) {
        bool refuse;
        assembly {
            refuse := sload(0)
        }
        if (input.length <= 96) return "";
        (uint256 steps, uint256 step, bytes32 partialSum) = abi.decode(input[:96], (uint256, uint256, bytes32));
        bytes calldata claims = input[96:];
        if (step >= steps) return "";
        bytes32 chain;
        for (uint256 i = 0; i < step; ++i) {
            chain = keccak256(abi.encode(i, chain, claims));
        }
        if (partialSum != chain) return "";
        if (step + 1 < steps) return abi.encode(keccak256(abi.encode(step, chain, claims)));
        return abi.encode(refuse ? uint256(0) : uint256(1));
    }
}

/// @dev A batch verifier that always answers (1, 0).
contract ConstantAnswer {
    fallback(bytes calldata) external returns (bytes memory) {
        return abi.encode(bytes32(uint256(1)), bytes32(0));
    }
}

/// @dev A batch verifier that answers the (root, queue) in its storage slots 1 and 2, whatever
/// it is asked: to measure the bridge's own part of a verification.
contract StoredAnswer {
    fallback(bytes calldata) external returns (bytes memory) {
        bytes32 root;
        bytes32 queue;
        assembly {
            root := sload(1)
            queue := sload(2)
        }
        return abi.encode(root, queue);
    }
}

/// @dev An L1 address that calls back into the bridge when paid.
contract Reenterer {
    IBridge internal immutable bridge;

    constructor(IBridge bridge_) {
        bridge = bridge_;
    }

    receive() external payable {
        bridge.claimWithdrawal(payable(address(this)));
    }

    function deposit(bytes32 key) external payable returns (uint64, uint32) {
        return bridge.deposit{value: msg.value}(key);
    }
}

// ---------------------------------------------------------------------- tests

contract BridgeTest {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// @dev Where genesis places the bridge (genesis/src/bridge.rs).
    address internal constant BRIDGE = address(0xb21d);
    address internal constant SEQUENCER = address(0x5E0);
    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);
    address internal constant CAROL = address(0xCA401);
    uint256 internal constant EXPIRY = 3 days;
    uint256 internal constant UNIT = 1 gwei;
    bytes32 internal constant EMPTY_ROOT = 0x067a954526685694a3effd2364c0fd525a024c5ce34e6b30d0a75dc6ba54c712;
    bytes32 internal constant SLOT_ESCROW = bytes32(uint256(4)); // totalEscrowUnits

    bytes32 internal constant KEY_SEQ = keccak256("sequencer key");
    bytes32 internal constant KEY_A = keccak256("alice key");
    bytes32 internal constant KEY_B = keccak256("bob key");
    bytes32 internal constant KEY_C = keccak256("carol key");

    IBridge internal bridge = IBridge(BRIDGE);

    function setUp() public {
        vm.etch(address(0x0b01), type(VerifyMock).runtimeCode);
        vm.etch(address(0x0b02), type(ClaimMock).runtimeCode);
        vm.etch(address(0x0b03), type(FoldMock).runtimeCode);
        vm.etch(address(0x0b04), type(DecideMock).runtimeCode);
        _placeAtGenesis(BRIDGE, type(Bridge).runtimeCode);
        vm.warp(1_000_000);
        vm.deal(SEQUENCER, 10_000 ether);
        vm.deal(ALICE, 10_000 ether);
        vm.deal(BOB, 10_000 ether);
        vm.deal(CAROL, 10_000 ether);
    }

    /// @dev What genesis does: runtime code, and storage slots 0 and 1.
    function _placeAtGenesis(address at, bytes memory code) internal {
        vm.etch(at, code);
        vm.store(at, bytes32(uint256(0)), bytes32(uint256(uint160(SEQUENCER))));
        vm.store(at, bytes32(uint256(1)), bytes32(EXPIRY));
    }

    // ------------------------------------------------------------------ helpers

    /// @dev The IPA claims the tests verify with (the mocks do not look inside).
    bytes internal constant CLAIMS = hex"c1a1c1a1";

    /// @dev Verifies a batch with CLAIMS, then, if that worked, decides every undecided batch.
    function _verify(
        uint64 number,
        bytes[] memory data,
        bytes32[] memory roots,
        bytes32[] memory queues,
        bytes[] memory proofs
    ) internal {
        bridge.verifyBatch(number, data, roots, queues, proofs, CLAIMS);
        if (bridge.lastVerified() == number && bridge.lastDecided() < number) {
            bridge.decideBatches(number, _claimsFor(bridge.lastDecided() + 1, number), 1);
        }
    }

    function _claimsFor(uint64 first, uint64 last) internal pure returns (bytes[] memory claims) {
        claims = new bytes[](last - first + 1);
        for (uint256 i = 0; i < claims.length; ++i) {
            claims[i] = CLAIMS;
        }
    }

    function _deposit(address from, bytes32 key, uint256 units) internal returns (uint64 id, uint32 account) {
        vm.prank(from);
        return bridge.deposit{value: units * UNIT}(key);
    }

    function _foldDeposit(bytes32 queue, uint32 account, uint256 units, address l1, bytes32 key)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encodePacked(uint256(3), queue, uint256(account), units, uint256(uint160(l1)), key));
    }

    function _foldExit(bytes32 queue, uint32 account, address l1) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(uint256(4), queue, uint256(account), uint256(0), uint256(uint160(l1)), bytes32(0)));
    }

    function _transfer(uint32 from, uint32 to, uint40 amount, uint16 fee) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(1), from, to, amount, fee);
    }

    function _withdraw(uint32 account, uint40 amount, uint16 fee, address l1) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(2), account, amount, fee, l1);
    }

    function _depositSlot(uint32 account, uint64 amount) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(3), account, amount);
    }

    function _exitSlot(uint32 account, uint64 amount, address l1) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(4), account, amount, l1);
    }

    function _one(bytes memory data) internal pure returns (bytes[] memory list) {
        list = new bytes[](1);
        list[0] = data;
    }

    function _word(bytes32 value) internal pure returns (bytes32[] memory list) {
        list = new bytes32[](1);
        list[0] = value;
    }

    /// @dev The proofs VerifyMock accepts for a batch starting at (root, queue).
    function _proofs(bytes32 root, bytes32 queue, bytes[] memory data, bytes32[] memory roots, bytes32[] memory queues)
        internal
        pure
        returns (bytes[] memory proofs)
    {
        proofs = new bytes[](data.length);
        for (uint256 c = 0; c < data.length; ++c) {
            proofs[c] = abi.encodePacked(keccak256(abi.encode(root, queue, roots[c], queues[c], keccak256(data[c]))));
            (root, queue) = (roots[c], queues[c]);
        }
    }

    function _commit(bytes[] memory data, bytes32[] memory roots, bytes32[] memory queues) internal {
        uint64 next = bridge.lastCommitted() + 1;
        vm.prank(SEQUENCER);
        bridge.commitBatch(next, data, roots, queues);
    }

    /// @dev Commits, verifies and executes a batch starting at (root, queue).
    function _runBatch(
        bytes32 root,
        bytes32 queue,
        bytes[] memory data,
        bytes32[] memory roots,
        bytes32[] memory queues
    ) internal returns (uint64 number) {
        _commit(data, roots, queues);
        number = bridge.lastCommitted();
        _verify(number, data, roots, queues, _proofs(root, queue, data, roots, queues));
        bridge.executeBatch(number);
    }

    function _leaf(uint32 index, bytes32 key, address l1, uint64 balance, uint32 nonce) internal pure returns (bytes32) {
        return keccak256(abi.encode(uint256(index), keccak256(abi.encode(key)), uint256(uint160(l1)), uint256(balance), uint256(nonce)));
    }

    /// @dev ClaimMock's root over leaves 0..3 (the rest empty), and the siblings of `index`.
    function _tree(bytes32[4] memory leaves, uint32 index) internal pure returns (bytes32 root, bytes32[32] memory siblings) {
        bytes32 left = keccak256(abi.encode(leaves[0], leaves[1]));
        bytes32 right = keccak256(abi.encode(leaves[2], leaves[3]));
        siblings[0] = leaves[index ^ 1];
        siblings[1] = index < 2 ? right : left;
        root = keccak256(abi.encode(left, right));
        for (uint256 h = 2; h < 32; ++h) {
            root = keccak256(abi.encode(root, bytes32(0)));
        }
    }

    function _expectRevert(bytes4 selector) internal {
        vm.expectRevert(abi.encodePacked(selector));
    }

    // ------------------------------------------------------------------ genesis and views

    function test_genesisSlotsConfigureTheBridge() public view {
        require(bridge.sequencer() == SEQUENCER, "slot 0 is the sequencer");
        require(bridge.priorityExpiry() == EXPIRY, "slot 1 is the priority expiry");
        require(bridge.lastExecutedRoot() == EMPTY_ROOT, "starts at the empty root");
        require(bridge.EMPTY_ROOT() == EMPTY_ROOT, "EMPTY_ROOT");
        require(bridge.UNIT() == 1 gwei && bridge.FEE_ACCOUNT() == 0, "constants");
        require(bridge.queueHash() == 0, "initial queue hash is 0");
        require(bridge.head() == 0 && bridge.tail() == 0 && bridge.committedTail() == 0, "empty queue");
        require(bridge.lastCommitted() == 0 && bridge.lastVerified() == 0 && bridge.lastExecuted() == 0, "no batch");
        require(!bridge.exodus(), "not in exodus");
        require(bridge.nextAccountIndex() == 1 && !bridge.feeAccountAssigned(), "no account");
    }

    function test_pinnedArtifactRunsAsGenesisPlacesIt() public {
        string memory json = vm.readFile("out/Bridge.json");
        bytes memory code = vm.parseJsonBytes(json, ".deployedBytecode");
        address pinned = address(0xB21D0);
        _placeAtGenesis(pinned, code);
        IBridge b = IBridge(pinned);
        require(b.sequencer() == SEQUENCER && b.priorityExpiry() == EXPIRY, "pinned bridge reads slots 0 and 1");
        vm.prank(SEQUENCER);
        (uint64 id, uint32 account) = b.deposit{value: 5 gwei}(KEY_SEQ);
        require(id == 0 && account == 0, "pinned bridge: the sequencer's first deposit is account 0");
        require(b.queueHash() == _foldDeposit(0, 0, 5, SEQUENCER, KEY_SEQ), "pinned bridge folds");
    }

    function test_plainEtherIsRefused() public {
        vm.prank(ALICE);
        (bool ok,) = BRIDGE.call{value: 1 gwei}("");
        require(!ok, "plain ether refused");
    }

    // ------------------------------------------------------------------ deposits

    function test_depositQueuesARequest() public {
        bytes32 queue = _foldDeposit(0, 1, 7, ALICE, KEY_A);
        vm.expectEmit();
        emit IBridge.Deposit(0, 1, ALICE, KEY_A, 7, queue, uint64(block.timestamp + EXPIRY));
        (uint64 id, uint32 account) = _deposit(ALICE, KEY_A, 7);
        require(id == 0 && account == 1, "first request, account 1");

        IBridge.PriorityRequest memory r = bridge.request(0);
        require(r.queueHashAfter == queue && bridge.queueHash() == queue, "queue hash");
        require(r.expiry == block.timestamp + EXPIRY, "expiry");
        require(r.l1 == ALICE && r.account == 1 && r.amount == 7 && r.kind == 3, "fields");
        require(bridge.tail() == 1 && bridge.head() == 0, "tail advanced");
        require(bridge.totalEscrowUnits() == 7 && BRIDGE.balance == 7 gwei, "escrowed");

        (uint64 id2,) = _deposit(ALICE, KEY_A, 3);
        require(id2 == 1, "second request");
        require(bridge.queueHash() == _foldDeposit(queue, 1, 3, ALICE, KEY_A), "chained onto the last request");

        vm.expectRevert(abi.encodeWithSelector(IBridge.UnknownRequest.selector, 2));
        bridge.request(2);
    }

    function test_depositMustBeAPositiveMultipleOfTheUnit() public {
        vm.prank(ALICE);
        _expectRevert(IBridge.ZeroDeposit.selector);
        bridge.deposit(KEY_A);

        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IBridge.NotUnitMultiple.selector, 1 gwei + 1));
        bridge.deposit{value: 1 gwei + 1}(KEY_A);

        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IBridge.NotUnitMultiple.selector, 1));
        bridge.deposit{value: 1}(KEY_A);
    }

    function test_depositIsAtMostMaxDepositUnits() public {
        uint256 max = 2 ** 40 - 1;
        require(bridge.MAX_DEPOSIT_UNITS() == max, "MAX_DEPOSIT_UNITS");
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IBridge.DepositTooLarge.selector, max + 1));
        bridge.deposit{value: (max + 1) * UNIT}(KEY_A);

        _deposit(ALICE, KEY_A, max);
        require(bridge.request(0).amount == max, "the max is accepted");
    }

    function test_depositKeepsTheEscrowBelowItsCap() public {
        uint256 cap = 2 ** 63;
        require(bridge.MAX_ESCROW_UNITS() == cap, "MAX_ESCROW_UNITS");
        vm.store(BRIDGE, SLOT_ESCROW, bytes32(cap - 10));
        require(bridge.totalEscrowUnits() == cap - 10, "slot 4 is totalEscrowUnits");

        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IBridge.EscrowFull.selector, cap - 10, 10));
        bridge.deposit{value: 10 gwei}(KEY_A);

        _deposit(ALICE, KEY_A, 9);
        require(bridge.totalEscrowUnits() == cap - 1, "just below the cap");
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(IBridge.EscrowFull.selector, cap - 1, 1));
        bridge.deposit{value: 1 gwei}(KEY_B);
    }

    function test_depositRefusedByTheFoldIsABadKey() public {
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IBridge.BadL2Key.selector, bytes32(0)));
        bridge.deposit{value: 1 gwei}(bytes32(0));
        require(bridge.tail() == 0 && bridge.nextAccountIndex() == 1, "nothing recorded");
    }

    function test_accountIndicesBindKeyAndSender() public {
        (, uint32 a) = _deposit(ALICE, KEY_A, 1);
        require(a == 1, "others start at 1");
        (, uint32 s) = _deposit(SEQUENCER, KEY_SEQ, 1);
        require(s == 0 && bridge.feeAccountAssigned(), "the sequencer's first pair is the fee account");
        (, s) = _deposit(SEQUENCER, KEY_SEQ, 1);
        require(s == 0, "the sequencer's pair keeps account 0");
        (, uint32 s2) = _deposit(SEQUENCER, KEY_B, 1);
        require(s2 == 2, "the sequencer's second key gets a new index");
        (, a) = _deposit(ALICE, KEY_A, 1);
        require(a == 1, "same key and sender reuse the index");
        (, uint32 b) = _deposit(BOB, KEY_A, 1);
        require(b == 3, "same key, other sender: new index");
        (, uint32 a2) = _deposit(ALICE, KEY_B, 1);
        require(a2 == 4, "same sender, other key: new index");

        (bool assigned, uint32 index) = bridge.accountOf(KEY_A, BOB);
        require(assigned && index == 3, "accountOf");
        (assigned,) = bridge.accountOf(KEY_C, BOB);
        require(!assigned, "unassigned pair");
        require(bridge.nextAccountIndex() == 5, "next index");
    }

    function test_feeAccountStaysReservedForTheSequencer() public {
        (, uint32 a) = _deposit(ALICE, KEY_A, 1);
        (, uint32 b) = _deposit(BOB, KEY_B, 1);
        require(a == 1 && b == 2, "0 is never given to others");
        (, uint32 s) = _deposit(SEQUENCER, KEY_SEQ, 1);
        require(s == 0, "the sequencer still gets 0 later");
    }

    function test_priorityExpirySaturates() public {
        vm.store(BRIDGE, bytes32(uint256(1)), bytes32(type(uint256).max));
        _deposit(ALICE, KEY_A, 1);
        require(bridge.request(0).expiry == type(uint64).max, "expiry saturates at 2^64 - 1");
    }

    // ------------------------------------------------------------------ forced withdrawals

    function test_forcedWithdrawalQueuesARequest() public {
        _deposit(ALICE, KEY_A, 5);
        bytes32 before = bridge.queueHash();
        bytes32 queue = _foldExit(before, 1, BOB);
        vm.expectEmit();
        emit IBridge.ForcedWithdrawalRequested(1, 1, BOB, queue, uint64(block.timestamp + EXPIRY));
        vm.prank(BOB);
        uint64 id = bridge.requestForcedWithdrawal(1);
        require(id == 1, "request id");
        IBridge.PriorityRequest memory r = bridge.request(1);
        require(r.kind == 4 && r.l1 == BOB && r.account == 1 && r.amount == 0, "fields");
        require(r.queueHashAfter == queue && bridge.queueHash() == queue, "queue hash");
        require(bridge.totalEscrowUnits() == 5, "escrow unchanged");
    }

    // ------------------------------------------------------------------ commit

    function test_commitParsesEverySlotKind() public {
        _deposit(SEQUENCER, KEY_SEQ, 100); // 0 -> account 0
        _deposit(ALICE, KEY_A, 1000); // 1 -> account 1
        vm.prank(ALICE);
        bridge.requestForcedWithdrawal(1); // 2
        vm.prank(BOB);
        bridge.requestForcedWithdrawal(1); // 3: not Bob's, exits 0

        bytes[] memory data = new bytes[](2);
        data[0] = bytes.concat(_depositSlot(0, 100), _transfer(0, 1, 5, 1), _depositSlot(1, 1000));
        data[1] = bytes.concat(
            _withdraw(1, 300, 2, CAROL), _exitSlot(1, 693, ALICE), _exitSlot(1, 0, BOB), _transfer(1, 0, 0, 0)
        );
        bytes32[] memory roots = new bytes32[](2);
        roots[0] = keccak256("root 1");
        roots[1] = keccak256("root 2");
        bytes32[] memory queues = new bytes32[](2);
        queues[0] = bridge.request(1).queueHashAfter;
        queues[1] = bridge.request(3).queueHashAfter;

        vm.expectEmit();
        emit IBridge.BatchCommitted(1, roots[1], queues[1], 4, 2);
        _commit(data, roots, queues);

        require(bridge.lastCommitted() == 1 && bridge.committedTail() == 4, "committed 4 requests");
        require(bridge.head() == 0, "none executed yet");
        (bytes32 dataHash, bytes32 root, bytes32 queue, uint64 first, uint64 count, uint256 withdrawals) = bridge.batch(1);
        require(dataHash == keccak256(abi.encode(data, roots, queues)), "data hash");
        require(root == roots[1] && queue == queues[1], "final root and queue");
        require(first == 0 && count == 4, "priority range");
        require(withdrawals == 2, "the zero forced exit pays nothing");
        (address l1, uint64 amount) = bridge.batchWithdrawal(1, 0);
        require(l1 == CAROL && amount == 300, "withdrawal");
        (l1, amount) = bridge.batchWithdrawal(1, 1);
        require(l1 == ALICE && amount == 693, "forced exit");
    }

    function test_commitWithoutPriorityKeepsTheQueueHash() public {
        _deposit(SEQUENCER, KEY_SEQ, 10);
        // Queue hash 0 before any batch consumed a request.
        _commit(_one(_transfer(0, 0, 1, 0)), _word(keccak256("r1")), _word(0));
        // Then one deposit, then a batch of only transfers keeps the queue hash after it.
        bytes32 q = bridge.queueHash();
        _commit(_one(_depositSlot(0, 10)), _word(keccak256("r2")), _word(q));
        _commit(_one(""), _word(keccak256("r3")), _word(q));

        vm.prank(SEQUENCER);
        vm.expectRevert(abi.encodeWithSelector(IBridge.QueueHashMismatch.selector, q, bytes32(0)));
        bridge.commitBatch(4, _one(""), _word(keccak256("r4")), _word(0));
        require(bridge.lastCommitted() == 3, "three batches");
    }

    function test_commitRefusesAnUnknownSlotKind() public {
        for (uint8 kind = 0; kind < 8; kind += 5) {
            // kinds 0 (padding, which publishes nothing) and 5
            bytes memory data = bytes.concat(_transfer(1, 2, 3, 4), bytes1(kind), new bytes(40));
            vm.prank(SEQUENCER);
            vm.expectRevert(abi.encodeWithSelector(IBridge.InvalidSlotKind.selector, 0, 16, kind));
            bridge.commitBatch(1, _one(data), _word(bytes32(0)), _word(bytes32(0)));
        }
    }

    function test_commitRefusesATruncatedSlot() public {
        bytes[4] memory slots = [
            _transfer(1, 2, 3, 4),
            _withdraw(1, 3, 4, ALICE),
            _depositSlot(1, 3),
            _exitSlot(1, 3, ALICE)
        ];
        for (uint256 i = 0; i < 4; ++i) {
            bytes memory full = slots[i];
            bytes memory cut = new bytes(full.length - 1);
            for (uint256 j = 0; j < cut.length; ++j) cut[j] = full[j];
            bytes[] memory data = new bytes[](2);
            data[0] = _transfer(1, 2, 3, 4);
            data[1] = bytes.concat(_transfer(1, 2, 3, 4), cut);
            bytes32[] memory words = new bytes32[](2);
            vm.prank(SEQUENCER);
            vm.expectRevert(abi.encodeWithSelector(IBridge.TruncatedSlot.selector, 1, 16));
            bridge.commitBatch(1, data, words, words);
        }
    }

    function test_commitRefusesAWrongQueueHash() public {
        _deposit(ALICE, KEY_A, 10);
        _deposit(BOB, KEY_B, 20);
        bytes32 afterFirst = bridge.request(0).queueHashAfter;
        bytes32 afterSecond = bridge.request(1).queueHashAfter;
        bytes[] memory data = _one(bytes.concat(_depositSlot(1, 10), _depositSlot(2, 20)));

        vm.prank(SEQUENCER);
        vm.expectRevert(abi.encodeWithSelector(IBridge.QueueHashMismatch.selector, afterSecond, afterFirst));
        bridge.commitBatch(1, data, _word(0), _word(afterFirst));

        // One request consumed, but the final hash claims both.
        vm.prank(SEQUENCER);
        vm.expectRevert(abi.encodeWithSelector(IBridge.QueueHashMismatch.selector, afterFirst, afterSecond));
        bridge.commitBatch(1, _one(_depositSlot(1, 10)), _word(0), _word(afterSecond));

        _commit(data, _word(0), _word(afterSecond));
    }

    function test_commitRefusesPrioritySlotsThatAreNotTheRequests() public {
        _deposit(ALICE, KEY_A, 10); // request 0, account 1
        vm.prank(ALICE);
        bridge.requestForcedWithdrawal(1); // request 1
        bytes32 q = bridge.queueHash();

        bytes[4] memory wrong = [
            bytes.concat(_depositSlot(1, 11), _exitSlot(1, 10, ALICE)), // amount
            bytes.concat(_depositSlot(2, 10), _exitSlot(1, 10, ALICE)), // account
            bytes.concat(_exitSlot(1, 0, ALICE), _exitSlot(1, 10, ALICE)), // kind
            bytes.concat(_depositSlot(1, 10), _exitSlot(1, 10, BOB)) // exit's l1
        ];
        uint256[4] memory offsets = [uint256(0), 0, 0, 13];
        uint64[4] memory ids = [uint64(0), 0, 0, 1];
        for (uint256 i = 0; i < 4; ++i) {
            vm.prank(SEQUENCER);
            vm.expectRevert(abi.encodeWithSelector(IBridge.PrioritySlotMismatch.selector, 0, offsets[i], ids[i]));
            bridge.commitBatch(1, _one(wrong[i]), _word(0), _word(q));
        }

        // More priority slots than requests.
        bytes memory tooMany = bytes.concat(_depositSlot(1, 10), _exitSlot(1, 10, ALICE), _depositSlot(1, 10));
        vm.prank(SEQUENCER);
        vm.expectRevert(abi.encodeWithSelector(IBridge.TooManyPrioritySlots.selector, 0, 46));
        bridge.commitBatch(1, _one(tooMany), _word(0), _word(q));
    }

    function test_commitNamesItsBatchSoAReplayedCommitIsRefused() public {
        _commit(_one(""), _word(keccak256("r1")), _word(0));
        // The same commit sent again (a retry after a lost receipt) is not batch 2.
        vm.prank(SEQUENCER);
        vm.expectRevert(abi.encodeWithSelector(IBridge.BatchOutOfOrder.selector, 2, 1));
        bridge.commitBatch(1, _one(""), _word(keccak256("r1")), _word(0));
        vm.prank(SEQUENCER);
        vm.expectRevert(abi.encodeWithSelector(IBridge.BatchOutOfOrder.selector, 2, 3));
        bridge.commitBatch(3, _one(""), _word(keccak256("r3")), _word(0));
        require(bridge.lastCommitted() == 1, "one batch");
    }

    function test_commitIsForTheSequencerOnly() public {
        vm.prank(ALICE);
        _expectRevert(IBridge.NotSequencer.selector);
        bridge.commitBatch(1, _one(""), _word(0), _word(0));
    }

    function test_commitChecksTheChunkArrays() public {
        vm.prank(SEQUENCER);
        vm.expectRevert(abi.encodeWithSelector(IBridge.BadChunkCount.selector, 0));
        bridge.commitBatch(1, new bytes[](0), new bytes32[](0), new bytes32[](0));

        vm.prank(SEQUENCER);
        vm.expectRevert(abi.encodeWithSelector(IBridge.BadChunkCount.selector, 65));
        bridge.commitBatch(1, new bytes[](65), new bytes32[](65), new bytes32[](65));

        vm.prank(SEQUENCER);
        _expectRevert(IBridge.LengthMismatch.selector);
        bridge.commitBatch(1, new bytes[](2), new bytes32[](2), new bytes32[](1));

        // 64 empty chunks are a batch.
        _commit(new bytes[](64), new bytes32[](64), new bytes32[](64));
    }

    // ------------------------------------------------------------------ verify and execute

    /// @dev Two committed batches: a deposit, then a transfer, each one chunk, with their proofs.
    struct TwoBatches {
        bytes32 q;
        bytes[] data1;
        bytes32[] roots1;
        bytes32[] queues1;
        bytes[] data2;
        bytes32[] roots2;
        bytes[] proofs1;
        bytes[] proofs2;
    }

    function _twoCommittedBatches() internal returns (TwoBatches memory t) {
        _deposit(SEQUENCER, KEY_SEQ, 10);
        t.q = bridge.queueHash();
        t.data1 = _one(_depositSlot(0, 10));
        t.roots1 = _word(keccak256("root 1"));
        t.queues1 = _word(t.q);
        t.data2 = _one(_transfer(0, 0, 1, 1));
        t.roots2 = _word(keccak256("root 2"));
        _commit(t.data1, t.roots1, t.queues1);
        _commit(t.data2, t.roots2, t.queues1);
        t.proofs1 = _proofs(EMPTY_ROOT, 0, t.data1, t.roots1, t.queues1);
        t.proofs2 = _proofs(t.roots1[0], t.q, t.data2, t.roots2, t.queues1);
    }

    function test_verifyRunsInOrderAgainstTheVerifier() public {
        TwoBatches memory t = _twoCommittedBatches();
        (bytes32 q, bytes[] memory data1, bytes32[] memory roots1, bytes32[] memory queues1) =
            (t.q, t.data1, t.roots1, t.queues1);
        (bytes[] memory data2, bytes32[] memory roots2) = (t.data2, t.roots2);
        (bytes[] memory proofs1, bytes[] memory proofs2) = (t.proofs1, t.proofs2);

        vm.expectRevert(abi.encodeWithSelector(IBridge.BatchOutOfOrder.selector, 1, 2));
        _verify(2, data2, roots2, queues1, proofs2);

        vm.expectRevert(abi.encodeWithSelector(IBridge.BatchDataMismatch.selector, 1));
        _verify(1, data2, roots1, queues1, proofs1);

        _expectRevert(IBridge.LengthMismatch.selector);
        _verify(1, data1, roots1, queues1, new bytes[](2));

        // A proof of the chunk from another starting root fails.
        vm.expectRevert(abi.encodeWithSelector(IBridge.ProofRejected.selector, 1));
        _verify(1, data1, roots1, queues1, _proofs(keccak256("other"), 0, data1, roots1, queues1));

        // The verifier says no.
        vm.store(address(0x0b01), 0, bytes32(uint256(1)));
        vm.expectRevert(abi.encodeWithSelector(IBridge.ProofRejected.selector, 1));
        _verify(1, data1, roots1, queues1, proofs1);
        vm.store(address(0x0b01), 0, 0);

        vm.expectEmit();
        emit IBridge.BatchVerified(1, roots1[0], q, CLAIMS);
        vm.prank(CAROL); // anyone
        _verify(1, data1, roots1, queues1, proofs1);
        require(bridge.lastVerified() == 1, "batch 1 verified");

        vm.expectRevert(abi.encodeWithSelector(IBridge.BatchOutOfOrder.selector, 2, 1));
        _verify(1, data1, roots1, queues1, proofs1);

        // Batch 2 starts from batch 1's committed root and queue hash.
        _verify(2, data2, roots2, queues1, proofs2);
        require(bridge.lastVerified() == 2, "batch 2 verified");

        vm.expectRevert(abi.encodeWithSelector(IBridge.BatchNotCommitted.selector, 3));
        _verify(3, data2, roots2, queues1, proofs2);
    }

    /// @dev Batch 1 (the sequencer's deposit) committed and verified; Alice deposits; batches 2
    /// (her deposit and a withdrawal to Bob) and 3 committed. Returns batch 1's root and the
    /// queue hashes after requests 0 and 1.
    function _twoUnverifiedBatches() internal returns (bytes32 root1, bytes32 q0, bytes32 q1) {
        _deposit(SEQUENCER, KEY_SEQ, 10); // request 0
        q0 = bridge.queueHash();
        bytes[] memory data1 = _one(_depositSlot(0, 10));
        root1 = keccak256("root 1");
        _commit(data1, _word(root1), _word(q0));
        _verify(1, data1, _word(root1), _word(q0), _proofs(EMPTY_ROOT, 0, data1, _word(root1), _word(q0)));
        _deposit(ALICE, KEY_A, 1000); // request 1
        q1 = bridge.queueHash();
        _commit(_one(bytes.concat(_depositSlot(1, 1000), _withdraw(1, 300, 2, BOB))), _word(keccak256("root 2")), _word(q1));
        _commit(_one(_transfer(1, 0, 5, 1)), _word(keccak256("root 3")), _word(q1));
        require(bridge.lastCommitted() == 3 && bridge.committedTail() == 2, "three batches, two requests");
    }

    /// Verification takes each proof's IPA claim as given; a batch executes only once its
    /// claims are decided. Deciding takes the claims each verification stored, for every batch
    /// in order; a false claim drops the undecided verifications, and a decider that does not
    /// answer reverts, so nobody can drop them by starving it.
    function test_decisionGatesExecutionAndAFalseClaimDropsTheVerifications() public {
        TwoBatches memory t = _twoCommittedBatches();
        (bytes[] memory data1, bytes32[] memory roots1, bytes32[] memory queues1) = (t.data1, t.roots1, t.queues1);
        (bytes[] memory data2, bytes32[] memory roots2) = (t.data2, t.roots2);
        (bytes[] memory proofs1, bytes[] memory proofs2) = (t.proofs1, t.proofs2);
        bytes memory claims2 = hex"b2b2";
        bridge.verifyBatch(1, data1, roots1, queues1, proofs1, CLAIMS);
        bridge.verifyBatch(2, data2, roots2, queues1, proofs2, claims2);
        require(bridge.lastVerified() == 2 && bridge.lastDecided() == 0, "verified, undecided");

        vm.expectRevert(abi.encodeWithSelector(IBridge.BatchNotDecided.selector, 1));
        bridge.executeBatch(1);
        bytes[] memory both = new bytes[](2);
        (both[0], both[1]) = (CLAIMS, claims2);
        _expectRevert(IBridge.LengthMismatch.selector);
        bridge.decideBatches(2, _one(CLAIMS), 1);
        vm.expectRevert(abi.encodeWithSelector(IBridge.BatchNotVerified.selector, 3));
        bridge.decideBatches(3, both, 1);
        vm.expectRevert(abi.encodeWithSelector(IBridge.BatchNotVerified.selector, 0));
        bridge.decideBatches(0, new bytes[](0), 1);
        vm.expectRevert(abi.encodeWithSelector(IBridge.ClaimsMismatch.selector, 2));
        bridge.decideBatches(2, _claimsFor(1, 2), 1);

        // A decider that does not answer: the call reverts and nothing changes.
        vm.etch(address(0x0b04), hex"fe");
        _expectRevert(IBridge.DeciderFailed.selector);
        bridge.decideBatches(2, both, 1);
        vm.etch(address(0x0b04), type(DecideMock).runtimeCode);

        // A false claim: both verifications are dropped, and the batches stay committed.
        vm.store(address(0x0b04), 0, bytes32(uint256(1)));
        vm.expectEmit();
        emit IBridge.ClaimsRefused(1, 2);
        vm.prank(CAROL); // anyone
        bridge.decideBatches(2, both, 1);
        require(bridge.lastVerified() == 0 && bridge.lastDecided() == 0, "verifications dropped");
        require(bridge.lastCommitted() == 2, "still committed");
        vm.store(address(0x0b04), 0, 0);

        // Verified again, then decided one group at a time, each unlocking its execution.
        bridge.verifyBatch(1, data1, roots1, queues1, proofs1, CLAIMS);
        bridge.verifyBatch(2, data2, roots2, queues1, proofs2, claims2);
        vm.expectEmit();
        emit IBridge.BatchesDecided(1, 1);
        bridge.decideBatches(1, _one(CLAIMS), 1);
        bridge.executeBatch(1);
        vm.expectRevert(abi.encodeWithSelector(IBridge.BatchNotDecided.selector, 2));
        bridge.executeBatch(2);
        bridge.decideBatches(2, _one(claims2), 1);
        require(bridge.lastDecided() == 2, "decided");
        bridge.executeBatch(2);
        require(bridge.lastExecuted() == 2, "executed");
    }

    /// A decision split into steps: the first call fixes the batches and the step count, every
    /// call (by anyone) carries the same claims and the decider's last answer on, other
    /// arguments are refused while it is under way, and only the last step decides: a false
    /// claim drops the verifications there, true ones let the batches execute.
    function test_aDecisionSplitIntoStepsGoesOnUntilItsLastStep() public {
        TwoBatches memory t = _twoCommittedBatches();
        bytes memory claims2 = hex"b2b2";
        bridge.verifyBatch(1, t.data1, t.roots1, t.queues1, t.proofs1, CLAIMS);
        bridge.verifyBatch(2, t.data2, t.roots2, t.queues1, t.proofs2, claims2);
        bytes[] memory both = new bytes[](2);
        (both[0], both[1]) = (CLAIMS, claims2);
        // No steps: the decider refuses, nothing starts.
        _expectRevert(IBridge.DeciderFailed.selector);
        bridge.decideBatches(2, both, 0);

        // Two steps with a false claim: the first only steps, the last refuses.
        vm.store(address(0x0b04), 0, bytes32(uint256(1)));
        vm.expectEmit();
        emit IBridge.DecisionStepped(1, 2, 0, 2);
        bridge.decideBatches(2, both, 2);
        require(bridge.lastVerified() == 2, "still verified after one step");
        vm.expectEmit();
        emit IBridge.ClaimsRefused(1, 2);
        bridge.decideBatches(2, both, 2);
        require(bridge.lastVerified() == 0 && bridge.lastDecided() == 0, "dropped at the last step");
        (uint64 last, uint32 steps,) = bridge.decision();
        require(last == 0 && steps == 0, "no decision under way");
        vm.store(address(0x0b04), 0, 0);

        // Four steps with true claims, continued by anyone.
        bridge.verifyBatch(1, t.data1, t.roots1, t.queues1, t.proofs1, CLAIMS);
        bridge.verifyBatch(2, t.data2, t.roots2, t.queues1, t.proofs2, claims2);
        bridge.decideBatches(2, both, 4);
        uint32 next;
        (last, steps, next) = bridge.decision();
        require(last == 2 && steps == 4 && next == 1, "under way");
        vm.expectRevert(abi.encodeWithSelector(IBridge.DecisionInProgress.selector, 2, 4, 1));
        bridge.decideBatches(1, _one(CLAIMS), 4);
        vm.expectRevert(abi.encodeWithSelector(IBridge.DecisionInProgress.selector, 2, 4, 1));
        bridge.decideBatches(2, both, 2);
        vm.expectRevert(abi.encodeWithSelector(IBridge.ClaimsMismatch.selector, 2));
        bridge.decideBatches(2, _claimsFor(1, 2), 4);
        vm.expectRevert(abi.encodeWithSelector(IBridge.BatchNotDecided.selector, 1));
        bridge.executeBatch(1);
        vm.prank(CAROL);
        bridge.decideBatches(2, both, 4);
        vm.prank(ALICE);
        bridge.decideBatches(2, both, 4);
        require(bridge.lastDecided() == 0, "not decided before the last step");
        vm.expectEmit();
        emit IBridge.BatchesDecided(1, 2);
        bridge.decideBatches(2, both, 4);
        require(bridge.lastDecided() == 2, "decided");
        (last, steps, next) = bridge.decision();
        require(last == 0 && steps == 0 && next == 0, "the decision ended");
        bridge.executeBatch(1);
        bridge.executeBatch(2);
    }

    function test_revertDropsUnverifiedBatchesAndRequeuesTheirRequests() public {
        (bytes32 root1, bytes32 q0, bytes32 q1) = _twoUnverifiedBatches();

        // Only the sequencer, never a verified batch, at least one batch.
        vm.prank(ALICE);
        _expectRevert(IBridge.NotSequencer.selector);
        bridge.revertBatches(1);
        vm.prank(SEQUENCER);
        vm.expectRevert(abi.encodeWithSelector(IBridge.BadRevert.selector, 1, 3, 0));
        bridge.revertBatches(0);
        vm.prank(SEQUENCER);
        vm.expectRevert(abi.encodeWithSelector(IBridge.BadRevert.selector, 1, 3, 3));
        bridge.revertBatches(3);

        vm.expectEmit();
        emit IBridge.BatchReverted(3, 2);
        vm.expectEmit();
        emit IBridge.BatchReverted(2, 1);
        vm.prank(SEQUENCER);
        bridge.revertBatches(1);
        require(bridge.lastCommitted() == 1 && bridge.lastVerified() == 1, "back to the verified batch");
        require(bridge.committedTail() == 1, "Alice's deposit waits again");
        (bytes32 dataHash,,,,, uint256 withdrawals) = bridge.batch(2);
        require(dataHash == 0 && withdrawals == 0, "batch 2 forgotten");
        vm.expectRevert(abi.encodeWithSelector(IBridge.BatchNotCommitted.selector, 2));
        _verify(2, _one(""), _word(root1), _word(q1), new bytes[](1));

        // The next commit is batch 2 again, from request 1, after batch 1's queue hash.
        bytes[] memory data2 = _one(_depositSlot(1, 1000));
        _commit(data2, _word(keccak256("root 2'")), _word(q1));
        require(bridge.lastCommitted() == 2 && bridge.committedTail() == 2, "recommitted");
        _verify(
            2, data2, _word(keccak256("root 2'")), _word(q1), _proofs(root1, q0, data2, _word(keccak256("root 2'")), _word(q1))
        );
        bridge.executeBatch(1);
        bridge.executeBatch(2);
        require(bridge.head() == 2 && bridge.claimable(BOB) == 0, "the reverted withdrawal pays nothing");
        require(BRIDGE.balance == 1010 gwei && bridge.totalEscrowUnits() == 1010, "value conserved");
    }

    function test_verifyRefusesAnAnswerForOtherWords() public {
        bytes[] memory data = _one("");
        bytes32[] memory roots = _word(keccak256("root"));
        bytes32[] memory queues = _word(0);
        _commit(data, roots, queues);
        bytes[] memory proofs = _proofs(EMPTY_ROOT, 0, data, roots, queues);
        // A verifier that answers 64 bytes, but not the batch's final root and queue hash.
        vm.etch(address(0x0b01), type(ConstantAnswer).runtimeCode);
        vm.expectRevert(abi.encodeWithSelector(IBridge.ProofRejected.selector, 1));
        _verify(1, data, roots, queues, proofs);
        vm.etch(address(0x0b01), type(VerifyMock).runtimeCode);
        _verify(1, data, roots, queues, proofs);
        require(bridge.lastVerified() == 1, "verified with the real answer");
    }

    /// The sequencer sends a verification with its gas bound, without an estimate: the
    /// calldata's gas, the verifier's charge and its own bound on the bridge's part
    /// (`bridge_work_gas` in src/sequencer/pipeline.rs, restated below). For batches of 16, 32
    /// and 64 chunks of 57 slots of 32 bytes, the largest the production shape publishes but
    /// for a byte, in packs of 8 (proofs of 22,208 bytes, claims of 544), the bridge's part
    /// (hashing the data, building the verifier's input, the event) stays within that bound.
    function test_theBridgeSPartOfAProductionVerificationFitsTheSequencersBound() public {
        bytes memory chunk;
        for (uint256 s = 0; s < 57; ++s) {
            chunk = bytes.concat(chunk, _withdraw(1, 1, 0, BOB));
        }
        vm.etch(address(0x0b01), type(StoredAnswer).runtimeCode);
        for (uint64 number = 1; number <= 3; ++number) {
            uint256 chunks = 8 << number;
            bytes[] memory data = new bytes[](chunks);
            bytes32[] memory roots = new bytes32[](chunks);
            bytes32[] memory queues = new bytes32[](chunks);
            bytes[] memory proofs = new bytes[](chunks);
            for (uint256 c = 0; c < chunks; ++c) {
                data[c] = chunk;
                roots[c] = keccak256(abi.encode(number, c));
                proofs[c] = c % 8 == 0 ? new bytes(22_208) : bytes("");
            }
            _commit(data, roots, queues);
            vm.store(address(0x0b01), bytes32(uint256(1)), roots[chunks - 1]);
            bytes memory claims = new bytes(chunks / 8 * 544);
            uint256 calldataLength =
                abi.encodeCall(IBridge.verifyBatch, (number, data, roots, queues, proofs, claims)).length;
            bridge.verifyBatch(number, data, roots, queues, proofs, claims);
            uint256 used = vm.lastCallGas().gasTotalUsed;
            require(bridge.lastVerified() == number, "verified");
            if (used > _bridgeWorkGas(calldataLength)) revert GasOutsideBound(used);
        }
    }

    /// @dev The sequencer's bound on the bridge's own gas in a proof call (bridge_work_gas).
    function _bridgeWorkGas(uint256 calldataLength) internal pure returns (uint256) {
        uint256 words = (calldataLength + 31) / 32;
        uint256 memoryWords = words * 5 / 2;
        return 100_000 + 100 * words + 3 * memoryWords + memoryWords * memoryWords / 512;
    }

    function test_executeCreditsWithdrawalsAndClaimPays() public {
        _deposit(SEQUENCER, KEY_SEQ, 100);
        _deposit(ALICE, KEY_A, 1000);
        bytes[] memory data = _one(bytes.concat(_depositSlot(0, 100), _depositSlot(1, 1000), _withdraw(1, 300, 2, BOB)));
        bytes32[] memory roots = _word(keccak256("root 1"));
        bytes32[] memory queues = _word(bridge.queueHash());
        _commit(data, roots, queues);

        vm.expectRevert(abi.encodeWithSelector(IBridge.BatchNotVerified.selector, 1));
        bridge.executeBatch(1);
        _verify(1, data, roots, queues, _proofs(EMPTY_ROOT, 0, data, roots, queues));
        vm.expectRevert(abi.encodeWithSelector(IBridge.BatchOutOfOrder.selector, 1, 2));
        bridge.executeBatch(2);

        vm.expectEmit();
        emit IBridge.WithdrawalClaimable(1, BOB, 300 gwei);
        vm.expectEmit();
        emit IBridge.BatchExecuted(1, roots[0], 2);
        vm.prank(CAROL);
        bridge.executeBatch(1);
        require(bridge.lastExecuted() == 1 && bridge.lastExecutedRoot() == roots[0], "executed root");
        require(bridge.head() == 2, "both deposits done");
        require(bridge.claimable(BOB) == 300 gwei, "claimable");
        require(bridge.totalEscrowUnits() == 800, "escrow less the withdrawal");
        require(BRIDGE.balance == bridge.claimable(BOB) + 800 gwei, "value conserved");

        vm.expectRevert(abi.encodeWithSelector(IBridge.BatchOutOfOrder.selector, 2, 1));
        bridge.executeBatch(1);

        uint256 before = BOB.balance;
        vm.prank(CAROL); // anyone triggers, Bob is paid
        bridge.claimWithdrawal(payable(BOB));
        require(BOB.balance == before + 300 gwei && bridge.claimable(BOB) == 0, "claim pays");
        vm.expectRevert(abi.encodeWithSelector(IBridge.NothingToClaim.selector, BOB));
        bridge.claimWithdrawal(payable(BOB));
        require(BRIDGE.balance == 800 gwei, "the rest stays escrowed");
    }

    function test_claimCannotReenter() public {
        Reenterer thief = new Reenterer(bridge);
        _deposit(SEQUENCER, KEY_SEQ, 100);
        vm.deal(address(thief), 1 ether);
        (, uint32 account) = thief.deposit{value: 50 gwei}(KEY_A);
        bytes[] memory data = _one(
            bytes.concat(_depositSlot(0, 100), _depositSlot(account, 50), _withdraw(account, 50, 0, address(thief)))
        );
        _runBatch(EMPTY_ROOT, 0, data, _word(keccak256("root")), _word(bridge.queueHash()));
        require(bridge.claimable(address(thief)) == 50 gwei, "claimable");
        // The callback's claim hits the lock, so the payment fails and nothing moves.
        vm.expectRevert(abi.encodeWithSelector(IBridge.PaymentFailed.selector, address(thief), 50 gwei));
        bridge.claimWithdrawal(payable(address(thief)));
        require(bridge.claimable(address(thief)) == 50 gwei, "still claimable");
    }

    // ------------------------------------------------------------------ exodus

    function test_exodusOnlyAfterExpiry() public {
        _expectRevert(IBridge.NoExpiredRequest.selector);
        bridge.activateExodus();

        _deposit(SEQUENCER, KEY_SEQ, 10);
        uint64 expiry = bridge.request(0).expiry;
        vm.warp(expiry);
        _expectRevert(IBridge.NoExpiredRequest.selector);
        bridge.activateExodus();

        // Executing the request in time keeps the bridge out of exodus.
        _runBatch(EMPTY_ROOT, 0, _one(_depositSlot(0, 10)), _word(keccak256("r")), _word(bridge.queueHash()));
        vm.warp(expiry + 1);
        _expectRevert(IBridge.NoExpiredRequest.selector);
        bridge.activateExodus();

        vm.prank(ALICE);
        bridge.requestForcedWithdrawal(1); // request 1
        vm.warp(bridge.request(1).expiry + 1);
        vm.expectEmit();
        emit IBridge.ExodusActivated(1);
        vm.prank(CAROL);
        bridge.activateExodus();
        require(bridge.exodus(), "in exodus");

        _expectRevert(IBridge.InExodus.selector);
        bridge.activateExodus();
        vm.prank(SEQUENCER);
        _expectRevert(IBridge.InExodus.selector);
        bridge.commitBatch(1, _one(""), _word(0), _word(0));
        _expectRevert(IBridge.InExodus.selector);
        _verify(2, _one(""), _word(0), _word(0), _one(""));
        _expectRevert(IBridge.InExodus.selector);
        bridge.executeBatch(2);
        vm.prank(ALICE);
        _expectRevert(IBridge.InExodus.selector);
        bridge.deposit{value: 1 gwei}(KEY_A);
        vm.prank(ALICE);
        _expectRevert(IBridge.InExodus.selector);
        bridge.requestForcedWithdrawal(1);
    }

    function test_exitAndReclaimNeedExodus() public {
        bytes32[32] memory siblings;
        _expectRevert(IBridge.NotInExodus.selector);
        bridge.exit(0, 0, ALICE, 0, 0, siblings);
        _expectRevert(IBridge.NotInExodus.selector);
        bridge.reclaimDeposit(0);
    }

    function test_exitFromTheEmptyRootNeedsAnEmptyTreeProof() public {
        _deposit(ALICE, KEY_A, 10);
        vm.warp(bridge.request(0).expiry + 1);
        bridge.activateExodus();
        // The mock's tree differs from the real empty root, so no claim holds; the deposit is
        // reclaimed instead.
        bytes32[32] memory siblings;
        vm.expectRevert(abi.encodeWithSelector(IBridge.InvalidAccountProof.selector, 1));
        bridge.exit(1, keccak256(abi.encode(KEY_A)), ALICE, 10, 0, siblings);
        uint256 before = ALICE.balance;
        bridge.reclaimDeposit(0);
        require(ALICE.balance == before + 10 gwei && BRIDGE.balance == 0, "reclaimed");
    }

    /// @dev A whole life: deposits, transfers, a withdrawal, a batch, a claim, an unprocessed
    /// deposit, exodus, exits and reclaims. After every step the bridge holds exactly what is
    /// claimable, plus the unexecuted deposits not reclaimed, plus the balances at the executed
    /// root not exited.
    function test_valueIsConservedThroughExodus() public {
        _deposit(SEQUENCER, KEY_SEQ, 100); // request 0, account 0
        _deposit(ALICE, KEY_A, 1000); // request 1, account 1
        _deposit(BOB, KEY_B, 500); // request 2, account 2
        _checkConservation(0, 1600);

        // L2: transfer 200 from Alice to Bob (fee 3), Alice withdraws 300 to Carol (fee 2).
        // Balances after: fee account 105, Alice 495, Bob 700.
        bytes32[4] memory leaves = [
            _leaf(0, KEY_SEQ, SEQUENCER, 105, 0),
            _leaf(1, KEY_A, ALICE, 495, 2),
            _leaf(2, KEY_B, BOB, 700, 0),
            bytes32(0)
        ];
        (bytes32 root,) = _tree(leaves, 0);
        bytes[] memory data = new bytes[](2);
        data[0] = bytes.concat(_depositSlot(0, 100), _depositSlot(1, 1000));
        data[1] = bytes.concat(_depositSlot(2, 500), _transfer(1, 2, 200, 3), _withdraw(1, 300, 2, CAROL));
        bytes32[] memory roots = new bytes32[](2);
        roots[0] = keccak256("intermediate root");
        roots[1] = root;
        bytes32[] memory queues = new bytes32[](2);
        queues[0] = bridge.request(1).queueHashAfter;
        queues[1] = bridge.request(2).queueHashAfter;
        _runBatch(EMPTY_ROOT, 0, data, roots, queues);
        require(bridge.claimable(CAROL) == 300 gwei, "Carol's withdrawal");
        _checkConservation(300 gwei, 1300);

        bridge.claimWithdrawal(payable(CAROL));
        require(CAROL.balance == 10_000 ether + 300 gwei, "Carol paid");
        _checkConservation(0, 1300);

        // Unprocessed: Carol deposits 50 (request 3), Bob asks for a forced exit (request 4).
        _deposit(CAROL, KEY_C, 50);
        vm.prank(BOB);
        bridge.requestForcedWithdrawal(2);
        _checkConservation(0, 1350);

        vm.warp(bridge.request(3).expiry + 1);
        bridge.activateExodus();

        // Alice exits with her balance at the executed root.
        (, bytes32[32] memory siblings) = _tree(leaves, 1);
        uint256 before = ALICE.balance;
        vm.expectEmit();
        emit IBridge.Exit(1, ALICE, 495, 495 gwei);
        vm.prank(CAROL); // anyone may submit it
        bridge.exit(1, keccak256(abi.encode(KEY_A)), ALICE, 495, 2, siblings);
        require(ALICE.balance == before + 495 gwei && bridge.exited(1), "Alice exited");
        _checkConservation(0, 855);

        vm.expectRevert(abi.encodeWithSelector(IBridge.AlreadyExited.selector, 1));
        bridge.exit(1, keccak256(abi.encode(KEY_A)), ALICE, 495, 2, siblings);

        // A claim for more than the leaf holds, or for another L1 address, fails.
        (, siblings) = _tree(leaves, 2);
        vm.expectRevert(abi.encodeWithSelector(IBridge.InvalidAccountProof.selector, 2));
        bridge.exit(2, keccak256(abi.encode(KEY_B)), BOB, 701, 0, siblings);
        vm.expectRevert(abi.encodeWithSelector(IBridge.InvalidAccountProof.selector, 2));
        bridge.exit(2, keccak256(abi.encode(KEY_B)), CAROL, 700, 0, siblings);
        bridge.exit(2, keccak256(abi.encode(KEY_B)), BOB, 700, 0, siblings);
        _checkConservation(0, 155);

        // Executed deposits and forced exits cannot be reclaimed; Carol's deposit can, once.
        vm.expectRevert(abi.encodeWithSelector(IBridge.NotReclaimable.selector, 1));
        bridge.reclaimDeposit(1);
        vm.expectRevert(abi.encodeWithSelector(IBridge.NotReclaimable.selector, 4));
        bridge.reclaimDeposit(4);
        vm.expectRevert(abi.encodeWithSelector(IBridge.NotReclaimable.selector, 5));
        bridge.reclaimDeposit(5);
        before = CAROL.balance;
        vm.expectEmit();
        emit IBridge.DepositReclaimed(3, 3, CAROL, 50 gwei);
        bridge.reclaimDeposit(3);
        require(CAROL.balance == before + 50 gwei, "Carol reclaimed");
        vm.expectRevert(abi.encodeWithSelector(IBridge.AlreadyReclaimed.selector, 3));
        bridge.reclaimDeposit(3);
        _checkConservation(0, 105);

        (, siblings) = _tree(leaves, 0);
        bridge.exit(0, keccak256(abi.encode(KEY_SEQ)), SEQUENCER, 105, 0, siblings);
        _checkConservation(0, 0);
        require(BRIDGE.balance == 0, "everything paid out");
    }

    function test_reclaimCoversDepositsCommittedButNotExecuted() public {
        _deposit(SEQUENCER, KEY_SEQ, 10);
        bytes32 q = bridge.queueHash();
        _commit(_one(_depositSlot(0, 10)), _word(keccak256("r")), _word(q));
        require(bridge.committedTail() == 1 && bridge.head() == 0, "committed, not executed");
        vm.warp(bridge.request(0).expiry + 1);
        bridge.activateExodus();
        uint256 before = SEQUENCER.balance;
        bridge.reclaimDeposit(0);
        require(SEQUENCER.balance == before + 10 gwei && BRIDGE.balance == 0, "reclaimed");
    }

    /// @dev The bridge's balance is what is claimable (`claimableWei`, tracked by the caller)
    /// plus the escrow, and the escrow is `escrowUnits`.
    function _checkConservation(uint256 claimableWei, uint256 escrowUnits) internal view {
        require(bridge.totalEscrowUnits() == escrowUnits, "escrow units");
        require(BRIDGE.balance == claimableWei + escrowUnits * UNIT, "balance == claimable + escrow");
    }
}
