// SPDX-License-Identifier: MIT
// A pool for the dense devchain profile (benchmark). Not for production use.
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// A constant-product pool in the shape of Uniswap V2 (Trader Joe v1, Pangolin): a swap moves both tokens
/// and emits Transfer, Transfer, Sync and Swap with their V2 signatures, the densest common log pattern.
contract DevPair {
    event Sync(uint112 reserve0, uint112 reserve1);
    event Swap(address indexed sender, uint256 amount0In, uint256 amount1In, uint256 amount0Out, uint256 amount1Out,
               address indexed to);

    IERC20 public immutable token0;
    IERC20 public immutable token1;
    uint112 public reserve0;
    uint112 public reserve1;

    uint32 public blockTimestampLast;

    constructor(IERC20 a, IERC20 b) {
        token0 = a;
        token1 = b;
    }

    function getReserves() external view returns (uint112, uint112, uint32) {
        return (reserve0, reserve1, blockTimestampLast);
    }

    /// Reads the reserves from balances (tokens sent to the pool first, as V2's mint does).
    function sync() external {
        reserve0 = uint112(token0.balanceOf(address(this)));
        reserve1 = uint112(token1.balanceOf(address(this)));
        blockTimestampLast = uint32(block.timestamp);
        emit Sync(reserve0, reserve1);
    }

    /// Pulls `amountIn` of one token from the caller (approved), pays out by x·y = k less 0.3%.
    function swap(uint256 amountIn, bool zeroForOne, address to) external returns (uint256 amountOut) {
        (IERC20 tokenIn, IERC20 tokenOut) = zeroForOne ? (token0, token1) : (token1, token0);
        (uint256 reserveIn, uint256 reserveOut) = zeroForOne ? (reserve0, reserve1) : (reserve1, reserve0);
        uint256 inWithFee = amountIn * 997;
        amountOut = (inWithFee * reserveOut) / (reserveIn * 1000 + inWithFee);
        require(tokenIn.transferFrom(msg.sender, address(this), amountIn), "pull failed");
        require(tokenOut.transfer(to, amountOut), "pay failed");
        reserve0 = uint112(token0.balanceOf(address(this)));
        reserve1 = uint112(token1.balanceOf(address(this)));
        blockTimestampLast = uint32(block.timestamp);
        emit Sync(reserve0, reserve1);
        if (zeroForOne) emit Swap(msg.sender, amountIn, 0, 0, amountOut, to);
        else emit Swap(msg.sender, 0, amountIn, amountOut, 0, to);
    }
}
