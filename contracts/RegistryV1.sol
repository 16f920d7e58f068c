// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";

/// @title RegistryV1
/// @notice Example governed contract behind a Transparent proxy: a first-come name registry.
/// Its ProxyAdmin is owned by the TimelockController, the only upgrade authority.
/// @custom:oz-upgrades
contract RegistryV1 is Initializable {
    /// @notice The owner of each registered name.
    mapping(bytes32 name => address owner) public ownerOf;
    /// @notice How many names are registered.
    uint256 public count;
    /// @notice A label shown by front ends.
    string public label;

    /// @notice Emitted when `owner` registers `name`.
    event Registered(bytes32 indexed name, address indexed owner);

    /// @notice The name is already registered.
    error NameTaken(bytes32 name, address owner);
    /// @notice The empty name cannot be registered.
    error EmptyName();

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Initialize the proxy's storage.
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

    /// @notice The implementation's version.
    function version() external pure virtual returns (string memory) {
        return "1.0.0";
    }
}
