# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled core of aionetstack: the Internet checksum and SipHash-2-4.

Theory of operation
-------------------
Both kernels are small C functions (below, in the verbatim block) called on the
raw bytes of any object exporting a contiguous buffer (bytes, bytearray,
memoryview). The Python wrappers only acquire and release the buffer, so the
per-call overhead stays at a few tens of nanoseconds.

``ones_sum`` adds the buffer as native-order 32-bit words into a 64-bit
accumulator (no carry handling in the loop: 2**32 words cannot overflow it, and
the compiler vectorises the loop), folds once to 16 bits with end-around carry,
and byte-swaps on little-endian hosts: the ones' complement sum is byte-order
independent (RFC 1071 section 2.B). The pure-Python fallbacks live in
``aionetstack.wire.checksum`` and ``aionetstack.wire.siphash``.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from libc.stdint cimport uint64_t

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>

    /* Folded 16-bit ones' complement sum in network order (RFC 1071). */
    static uint64_t ans_ones_sum(const unsigned char *p, size_t n, uint64_t initial)
    {
        uint64_t a0 = 0, a1 = 0;
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            uint32_t w0, w1;
            memcpy(&w0, p + i, 4);
            memcpy(&w1, p + i + 4, 4);
            a0 += w0;
            a1 += w1;
        }
        if (i < n) {
            /* Tail of 1..7 bytes; offsets stay aligned to the word grid. */
            unsigned char t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            uint32_t w0, w1;
            memcpy(t, p + i, n - i);
            memcpy(&w0, t, 4);
            memcpy(&w1, t + 4, 4);
            a0 += w0;
            a1 += w1;
        }
        uint64_t s = (a0 & 0xffffffffu) + (a0 >> 32) + (a1 & 0xffffffffu) + (a1 >> 32);
        s = (s & 0xffffffffu) + (s >> 32);
        s = (s & 0xffffffffu) + (s >> 32);
        s = (s & 0xffffu) + (s >> 16);
        s = (s & 0xffffu) + (s >> 16);
        s = (s & 0xffffu) + (s >> 16);
        {
            const uint16_t one = 1;
            unsigned char first;
            memcpy(&first, &one, 1);
            if (first)  /* little-endian host: swap to network order */
                s = ((s & 0xffu) << 8) | (s >> 8);
        }
        /* Fold the caller's partial sum in (it may be any 64-bit value). */
        initial = (initial & 0xffffffffu) + (initial >> 32);
        s += (initial & 0xffffffffu) + (initial >> 32);
        s = (s & 0xffffu) + (s >> 16);
        s = (s & 0xffffu) + (s >> 16);
        s = (s & 0xffffu) + (s >> 16);
        return s;
    }

    #define ANS_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
    #define ANS_SIPROUND(v0, v1, v2, v3) do {                       \\
        v0 += v1; v1 = ANS_ROTL(v1, 13); v1 ^= v0; v0 = ANS_ROTL(v0, 32); \\
        v2 += v3; v3 = ANS_ROTL(v3, 16); v3 ^= v2;                    \\
        v0 += v3; v3 = ANS_ROTL(v3, 21); v3 ^= v0;                    \\
        v2 += v1; v1 = ANS_ROTL(v1, 17); v1 ^= v2; v2 = ANS_ROTL(v2, 32); \\
    } while (0)

    static inline uint64_t ans_load64_le(const unsigned char *p)
    {
        return (uint64_t)p[0] | ((uint64_t)p[1] << 8) | ((uint64_t)p[2] << 16)
             | ((uint64_t)p[3] << 24) | ((uint64_t)p[4] << 32) | ((uint64_t)p[5] << 40)
             | ((uint64_t)p[6] << 48) | ((uint64_t)p[7] << 56);
    }

    /* SipHash-2-4 (Aumasson and Bernstein, 2012), 16-byte key, 64-bit output. */
    static uint64_t ans_siphash24(const unsigned char *key, const unsigned char *m, size_t n)
    {
        uint64_t k0 = ans_load64_le(key), k1 = ans_load64_le(key + 8);
        uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
        uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
        uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
        uint64_t v3 = k1 ^ 0x7465646279746573ULL;
        size_t i = 0, r;
        uint64_t b;
        for (; i + 8 <= n; i += 8) {
            uint64_t w = ans_load64_le(m + i);
            v3 ^= w;
            ANS_SIPROUND(v0, v1, v2, v3);
            ANS_SIPROUND(v0, v1, v2, v3);
            v0 ^= w;
        }
        b = ((uint64_t)n) << 56;
        for (r = 0; i + r < n; r++)
            b |= ((uint64_t)m[i + r]) << (8 * r);
        v3 ^= b;
        ANS_SIPROUND(v0, v1, v2, v3);
        ANS_SIPROUND(v0, v1, v2, v3);
        v0 ^= b;
        v2 ^= 0xff;
        ANS_SIPROUND(v0, v1, v2, v3);
        ANS_SIPROUND(v0, v1, v2, v3);
        ANS_SIPROUND(v0, v1, v2, v3);
        ANS_SIPROUND(v0, v1, v2, v3);
        return v0 ^ v1 ^ v2 ^ v3;
    }
    """
    uint64_t ans_ones_sum(const unsigned char *p, size_t n, uint64_t initial) nogil
    uint64_t ans_siphash24(const unsigned char *key, const unsigned char *m, size_t n) nogil


def ones_sum(object data, uint64_t initial=0):
    """Folded 16-bit ones' complement sum of ``data`` plus ``initial`` (not complemented)."""
    cdef Py_buffer view
    cdef uint64_t s
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    s = ans_ones_sum(<const unsigned char *>view.buf, <size_t>view.len, initial)
    PyBuffer_Release(&view)
    return s


def siphash24(object key, object data):
    """SipHash-2-4 of ``data`` under the 16-byte ``key``, as a 64-bit unsigned int."""
    cdef Py_buffer kview
    cdef Py_buffer dview
    cdef uint64_t h
    PyObject_GetBuffer(key, &kview, PyBUF_SIMPLE)
    if kview.len != 16:
        PyBuffer_Release(&kview)
        raise ValueError("siphash24 key must be 16 bytes")
    try:
        PyObject_GetBuffer(data, &dview, PyBUF_SIMPLE)
    except BaseException:
        PyBuffer_Release(&kview)
        raise
    h = ans_siphash24(<const unsigned char *>kview.buf,
                      <const unsigned char *>dview.buf, <size_t>dview.len)
    PyBuffer_Release(&dview)
    PyBuffer_Release(&kview)
    return h
