// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";

/// @title RegistryV2
/// @notice Storage-compatible upgrade of RegistryV1: names can be transferred and released.
/// New state is appended after RegistryV1's variables.
/// @custom:oz-upgrades-from RegistryV1
contract RegistryV2 is Initializable {
    /// @notice The owner of each registered name.
    mapping(bytes32 name => address owner) public ownerOf;
    /// @notice How many names are registered.
    uint256 public count;
    /// @notice A label shown by front ends.
    string public label;
    /// @notice How many times each name has changed hands.
    mapping(bytes32 name => uint256 transfers) public transfersOf;

    /// @notice Emitted when `owner` registers `name`.
    event Registered(bytes32 indexed name, address indexed owner);
    /// @notice Emitted when `name` moves from `from` to `to`.
    event NameTransferred(bytes32 indexed name, address indexed from, address indexed to);
    /// @notice Emitted when `owner` releases `name`.
    event Released(bytes32 indexed name, address indexed owner);

    /// @notice The name is already registered.
    error NameTaken(bytes32 name, address owner);
    /// @notice The empty name cannot be registered.
    error EmptyName();
    /// @notice The caller does not own the name.
    error NotNameOwner(bytes32 name, address caller);

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Initialize the proxy's storage (fresh deployments only).
    /// @param label_ The registry's label.
    function initialize(string calldata label_) external initializer {
        label = label_;
    }

    /// @notice Register `name` to the caller.
    /// @param name The name to claim.
    function register(bytes32 name) external {
        if (name == bytes32(0)) revert EmptyName();
        address current = ownerOf[name];
        if (current != address(0)) revert NameTaken(name, current);
        ownerOf[name] = msg.sender;
        count += 1;
        emit Registered(name, msg.sender);
    }

    /// @notice Transfer `name` from the caller to `to`.
    /// @param name The name to move.
    /// @param to The new owner.
    function transferName(bytes32 name, address to) external {
        if (ownerOf[name] != msg.sender) revert NotNameOwner(name, msg.sender);
        ownerOf[name] = to;
        transfersOf[name] += 1;
        emit NameTransferred(name, msg.sender, to);
    }

    /// @notice Release `name`, so that anyone may register it again.
    /// @param name The name to release.
    function release(bytes32 name) external {
        if (ownerOf[name] != msg.sender) revert NotNameOwner(name, msg.sender);
        delete ownerOf[name];
        count -= 1;
        emit Released(name, msg.sender);
    }

    /// @notice The implementation's version.
    function version() external pure virtual returns (string memory) {
        return "2.0.0";
    }
}
