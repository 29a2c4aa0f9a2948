"""Imports every dataset module so that each registers itself."""

from . import asl_dvs, cifar10dvs, dvs128_gesture, ncaltech101, ncars, ndigits, nmnist, poker_dvs

__all__ = [
    "asl_dvs",
    "cifar10dvs",
    "dvs128_gesture",
    "ncaltech101",
    "ncars",
    "ndigits",
    "nmnist",
    "poker_dvs",
]
