// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {OwnableUpgradeable} from "@openzeppelin/contracts-upgradeable/access/OwnableUpgradeable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";

/// @title VaultV2
/// @notice Storage-compatible upgrade of VaultV1: adds internal transfers and a deposit cap.
/// New state is appended after VaultV1's variables.
/// @custom:oz-upgrades-from VaultV1
contract VaultV2 is Initializable, OwnableUpgradeable, UUPSUpgradeable {
    /// @notice Ether held for each account.
    mapping(address account => uint256 amount) public balanceOf;
    /// @notice Sum of all balances.
    uint256 public totalDeposits;
    /// @notice Largest balance one account may hold; zero means no cap.
    uint256 public depositCap;

    /// @notice Emitted when `account` deposits `amount` wei.
    event Deposited(address indexed account, uint256 amount);
    /// @notice Emitted when `account` withdraws `amount` wei.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice Emitted when `from` moves `amount` wei of balance to `to`.
    event Transferred(address indexed from, address indexed to, uint256 amount);
    /// @notice Emitted when the owner changes the deposit cap.
    event DepositCapChanged(uint256 cap);

    /// @notice A withdrawal or transfer asked for more than the caller holds.
    error InsufficientBalance(uint256 requested, uint256 available);
    /// @notice Sending ether to the caller failed.
    error TransferFailed();
    /// @notice A zero-value deposit.
    error ZeroDeposit();
    /// @notice The deposit would take the balance over the cap.
    error CapExceeded(uint256 balance, uint256 cap);

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Initialize the proxy's storage (fresh deployments only).
    /// @param owner_ The upgrade authority (the TimelockController).
    function initialize(address owner_) external initializer {
        __Ownable_init(owner_);
    }

    /// @notice Deposit the attached ether to the caller's balance.
    function deposit() external payable {
        if (msg.value == 0) revert ZeroDeposit();
        uint256 balance = balanceOf[msg.sender] + msg.value;
        if (depositCap != 0 && balance > depositCap) revert CapExceeded(balance, depositCap);
        balanceOf[msg.sender] = balance;
        totalDeposits += msg.value;
        emit Deposited(msg.sender, msg.value);
    }

    /// @notice Withdraw `amount` wei of the caller's balance.
    /// @param amount The amount to withdraw, in wei.
    function withdraw(uint256 amount) external {
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
    function transfer(address to, uint256 amount) external {
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
        return "2.0.0";
    }

    /// @dev Only the owner (the timelock) may upgrade.
    function _authorizeUpgrade(address) internal override onlyOwner {}
}
