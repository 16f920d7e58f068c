// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {OwnableUpgradeable} from "@openzeppelin/contracts-upgradeable/access/OwnableUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";

/// @title VaultV3
/// @notice Storage-compatible upgrade of VaultV2: the guardian can pause deposits, withdrawals and
/// transfers at once; only the owner (the timelock) can unpause. Pausable's state lives in its ERC-7201
/// namespace; the guardian is appended after VaultV2's variables.
/// @custom:oz-upgrades-from VaultV2
contract VaultV3 is Initializable, OwnableUpgradeable, PausableUpgradeable, UUPSUpgradeable {
    /// @notice Ether held for each account.
    mapping(address account => uint256 amount) public balanceOf;
    /// @notice Sum of all balances.
    uint256 public totalDeposits;
    /// @notice Largest balance one account may hold; zero means no cap.
    uint256 public depositCap;
    /// @notice The account that may pause (the policy's guardian); zero: nobody.
    address public guardian;

    /// @notice Emitted when `account` deposits `amount` wei.
    event Deposited(address indexed account, uint256 amount);
    /// @notice Emitted when `account` withdraws `amount` wei.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice Emitted when `from` moves `amount` wei of balance to `to`.
    event Transferred(address indexed from, address indexed to, uint256 amount);
    /// @notice Emitted when the owner changes the deposit cap.
    event DepositCapChanged(uint256 cap);
    /// @notice Emitted when the account that may pause changes.
    event GuardianChanged(address indexed previous, address indexed guardian);

    /// @notice A withdrawal or transfer asked for more than the caller holds.
    error InsufficientBalance(uint256 requested, uint256 available);
    /// @notice Sending ether to the caller failed.
    error TransferFailed();
    /// @notice A zero-value deposit.
    error ZeroDeposit();
    /// @notice The deposit would take the balance over the cap.
    error CapExceeded(uint256 balance, uint256 cap);
    /// @notice Only the guardian may pause.
    error NotGuardian(address caller);
    /// @notice initialize runs only while a new proxy is being deployed.
    error InitializeOnlyAtDeployment();

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @custom:oz-upgrades-validate-as-initializer
    /// @notice Initialize a fresh proxy's storage (version 2, so initializeV3 cannot run after it).
    /// @param owner_ The upgrade authority and unpauser (the TimelockController).
    /// @param guardian_ The account that may pause.
    function initialize(address owner_, address guardian_) external reinitializer(2) {
        // Only inside a new proxy's constructor (it has no code yet): on a V2 proxy upgraded without
        // initializeV3 this reinitializer is otherwise open to anyone, who would make itself the owner.
        if (address(this).code.length != 0) revert InitializeOnlyAtDeployment();
        __Ownable_init(owner_);
        __Pausable_init();
        _setGuardian(guardian_);
    }

    /// @notice Run once by the V2 → V3 upgrade (upgradeToAndCall): names the guardian. A reinitializer
    /// (not validated as an initializer by upgrades-core): Ownable was initialized by V1's initialize.
    /// Owner only: inside upgradeToAndCall the caller is the timelock; after an upgrade that did not call
    /// it, anyone could otherwise name themselves guardian.
    /// @param guardian_ The account that may pause.
    function initializeV3(address guardian_) external reinitializer(2) onlyOwner {
        __Pausable_init();
        _setGuardian(guardian_);
    }

    /// @notice Stop deposits, withdrawals and transfers. Guardian only.
    function pause() external {
        if (msg.sender != guardian) revert NotGuardian(msg.sender);
        _pause();
    }

    /// @notice Resume deposits, withdrawals and transfers. Owner (the timelock) only.
    function unpause() external onlyOwner {
        _unpause();
    }

    /// @notice Change the account that may pause. Owner (the timelock) only.
    /// @param guardian_ The new guardian; zero: nobody may pause.
    function setGuardian(address guardian_) external onlyOwner {
        _setGuardian(guardian_);
    }

    /// @notice Deposit the attached ether to the caller's balance.
    function deposit() external payable whenNotPaused {
        if (msg.value == 0) revert ZeroDeposit();
        uint256 balance = balanceOf[msg.sender] + msg.value;
        if (depositCap != 0 && balance > depositCap) revert CapExceeded(balance, depositCap);
        balanceOf[msg.sender] = balance;
        totalDeposits += msg.value;
        emit Deposited(msg.sender, msg.value);
    }

    /// @notice Withdraw `amount` wei of the caller's balance.
    /// @param amount The amount to withdraw, in wei.
    function withdraw(uint256 amount) external whenNotPaused {
        uint256 available = balanceOf[msg.sender];
        if (amount > available) revert InsufficientBalance(amount, available);
        balanceOf[msg.sender] = available - amount;
        totalDeposits -= amount;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    /// @notice Move `amount` wei of the caller's balance to `to` without leaving the vault.
    /// @param to The receiving account.
    /// @param amount The amount to move, in wei.
    function transfer(address to, uint256 amount) external whenNotPaused {
        uint256 available = balanceOf[msg.sender];
        if (amount > available) revert InsufficientBalance(amount, available);
        balanceOf[msg.sender] = available - amount;
        balanceOf[to] += amount;
        emit Transferred(msg.sender, to, amount);
    }

    /// @notice Set the largest balance one account may hold (zero: no cap). Owner only.
    /// @param cap The new cap, in wei.
    function setDepositCap(uint256 cap) external onlyOwner {
        depositCap = cap;
        emit DepositCapChanged(cap);
    }

    /// @notice The implementation's version.
    function version() external pure virtual returns (string memory) {
        return "3.0.0";
    }

    function _setGuardian(address guardian_) private {
        emit GuardianChanged(guardian, guardian_);
        guardian = guardian_;
    }

    /// @dev Only the owner (the timelock) may upgrade.
    function _authorizeUpgrade(address) internal override onlyOwner {}
}
