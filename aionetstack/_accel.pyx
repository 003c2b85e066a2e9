# cython: boundscheck=False, wraparound=False, cdivision=True
"""Placeholder; the wire work fills this in."""

def ones_sum(data, unsigned int initial=0):
    return 0
