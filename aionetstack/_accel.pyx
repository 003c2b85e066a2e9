# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled core of aionetstack: the Internet checksum, SipHash-2-4, the IPv4+TCP
packet builder and the TUN write loop.

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

``build_ipv4_tcp`` is the send hot path (``wire/tcp.py`` documents it): one
``bytes`` object is allocated at its final size, the 40-byte header written
field by field, options and payload copied in once, and the TCP checksum summed
over the finished segment. Any argument it cannot take as is (not an exact
``int``, out of its field's range, not a contiguous buffer, bad option length,
too long) makes it call the pure-Python builder instead, so errors are exactly
the fallback's.

``parse_tcp`` handles the usual segment (no options, or Linux's ``NOP NOP TS``;
checksum verified when both addresses are given) and builds the ``TcpSegment``
record directly (its class and slot offsets are registered once by
``wire/tcp.py``); anything else (other options, a bad header or checksum, a
``bytearray``) goes to the pure-Python parser, which raises the errors.

``write_packets(fd, packets, start)`` writes ``packets[start:]`` (``bytes``
items) to a non-blocking descriptor, one ``write(2)`` each, releasing the GIL
per chunk of up to 64 packets. It stops at the first item that is not
``bytes`` or whose write fails, and returns ``(written, nbytes)``; the caller
redoes that packet with ``os.write`` to get the error (``link/tun.py``).
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from libc.stdint cimport uint32_t, uint64_t

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <unistd.h>
    #include <structmember.h>

    static PyObject *ans_sixty_four = NULL;  /* the int 64, made on first use */

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

    static inline void ans_put16(unsigned char *p, uint32_t v)
    {
        p[0] = (unsigned char)(v >> 8);
        p[1] = (unsigned char)v;
    }

    static inline void ans_put32(unsigned char *p, uint32_t v)
    {
        p[0] = (unsigned char)(v >> 24);
        p[1] = (unsigned char)(v >> 16);
        p[2] = (unsigned char)(v >> 8);
        p[3] = (unsigned char)v;
    }

    static inline uint32_t ans_fold(uint64_t s)
    {
        s = (s & 0xffffffffu) + (s >> 32);
        s = (s & 0xffffu) + (s >> 16);
        s = (s & 0xffffu) + (s >> 16);
        s = (s & 0xffffu) + (s >> 16);
        return (uint32_t)s;
    }

    /* An exact int in [0, limit], else -1 (no exception left set). */
    static inline int ans_field(PyObject *o, unsigned long limit, uint32_t *out)
    {
        unsigned long v;
        if (!PyLong_CheckExact(o))
            return -1;
        v = PyLong_AsUnsignedLong(o);
        if (v == (unsigned long)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            return -1;
        }
        if (v > limit)
            return -1;
        *out = (uint32_t)v;
        return 0;
    }

    /* The options and payload buffers of a builder, checked (options a multiple
       of 4 up to 40 bytes, the TCP segment at most ``max_tcp`` bytes): 0, or -1
       (no exception left set, nothing held) for "use the pure-Python builder". */
    static int ans_tcp_buffers(PyObject *options, PyObject *payload, Py_ssize_t max_tcp,
                               Py_buffer *ov, Py_buffer *pv)
    {
        if (PyObject_GetBuffer(options, ov, PyBUF_SIMPLE) < 0) {
            PyErr_Clear();
            return -1;
        }
        if (PyObject_GetBuffer(payload, pv, PyBUF_SIMPLE) < 0) {
            PyErr_Clear();
            PyBuffer_Release(ov);
            return -1;
        }
        if ((ov->len & 3) || ov->len > 40 || 20 + ov->len + pv->len > max_tcp) {
            PyBuffer_Release(pv);
            PyBuffer_Release(ov);
            return -1;
        }
        return 0;
    }

    /* Write the TCP header, options and payload at ``t`` (RFC 9293 3.1), release
       both buffers, and fill the checksum over the segment plus ``pseudo`` (the
       pseudo-header sum without the TCP length, which is added here). */
    static void ans_fill_tcp(unsigned char *t, uint32_t sport, uint32_t dport, uint32_t seq,
                             uint32_t ack, uint32_t flags, uint32_t window, Py_buffer *ov,
                             Py_buffer *pv, uint64_t pseudo)
    {
        Py_ssize_t hlen = 20 + ov->len, tcp_len = hlen + pv->len;
        ans_put16(t, sport);
        ans_put16(t + 2, dport);
        ans_put32(t + 4, seq);
        ans_put32(t + 8, ack);
        t[12] = (unsigned char)(hlen << 2);
        t[13] = (unsigned char)flags;
        ans_put16(t + 14, window);
        t[16] = t[17] = t[18] = t[19] = 0;
        if (ov->len)
            memcpy(t + 20, ov->buf, (size_t)ov->len);
        if (pv->len)
            memcpy(t + hlen, pv->buf, (size_t)pv->len);
        PyBuffer_Release(pv);
        PyBuffer_Release(ov);
        pseudo += (uint64_t)tcp_len;
        ans_put16(t + 16, ~(uint32_t)ans_ones_sum(t, (size_t)tcp_len, pseudo) & 0xffffu);
    }

    /* The whole IPv4 (DF, no IP options) + TCP packet; Py_None (new reference)
       means "not handled here: use the pure-Python builder". */
    static PyObject *ans_build_ipv4_tcp(PyObject *a_src, PyObject *a_dst, PyObject *a_ident,
                                        PyObject *a_ttl, PyObject *a_sport, PyObject *a_dport,
                                        PyObject *a_seq, PyObject *a_ack, PyObject *a_flags,
                                        PyObject *a_window, PyObject *options, PyObject *payload)
    {
        uint32_t src, dst, ident, ttl, sport, dport, seq, ack, flags, window;
        Py_buffer ov, pv;
        Py_ssize_t total;
        PyObject *res;
        unsigned char *p;
        uint64_t s;
        if (ans_field(a_src, 0xffffffffUL, &src) || ans_field(a_dst, 0xffffffffUL, &dst)
            || ans_field(a_ident, 0xffffUL, &ident) || ans_field(a_ttl, 0xffUL, &ttl)
            || ans_field(a_sport, 0xffffUL, &sport) || ans_field(a_dport, 0xffffUL, &dport)
            || ans_field(a_seq, 0xffffffffUL, &seq) || ans_field(a_ack, 0xffffffffUL, &ack)
            || ans_field(a_flags, 0xffUL, &flags) || ans_field(a_window, 0xffffUL, &window))
            Py_RETURN_NONE;
        if (ans_tcp_buffers(options, payload, 65535 - 20, &ov, &pv) < 0)
            Py_RETURN_NONE;
        total = 20 + 20 + ov.len + pv.len;
        res = PyBytes_FromStringAndSize(NULL, total);
        if (res == NULL) {
            PyBuffer_Release(&pv);
            PyBuffer_Release(&ov);
            return NULL;
        }
        p = (unsigned char *)PyBytes_AS_STRING(res);
        /* RFC 791 3.1: version/IHL 0x45, TOS 0, DF, protocol 6 */
        p[0] = 0x45;
        p[1] = 0;
        ans_put16(p + 2, (uint32_t)total);
        ans_put16(p + 4, ident);
        p[6] = 0x40;
        p[7] = 0;
        p[8] = (unsigned char)ttl;
        p[9] = 6;
        ans_put32(p + 12, src);
        ans_put32(p + 16, dst);
        s = 0x4500u + (uint64_t)total + ident + 0x4000u + (ttl << 8) + 6u
            + (src >> 16) + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu);
        ans_put16(p + 10, ~ans_fold(s) & 0xffffu);
        /* pseudo-header + the finished segment (checksum field still zero) */
        ans_fill_tcp(p + 20, sport, dport, seq, ack, flags, window, &ov, &pv,
                     (src >> 16) + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu) + 6u);
        return res;
    }

    /* A 128-bit address (an exact int in [0, 2**128)) as 16 network-order bytes
       and the sum of its eight 16-bit words; -1 (no exception left set) if not. */
    static int ans_addr6(PyObject *o, unsigned char *out, uint64_t *wsum)
    {
        PyObject *hi_obj;
        unsigned long long hi, lo;
        int i;
        if (!PyLong_CheckExact(o))
            return -1;
        if (ans_sixty_four == NULL && (ans_sixty_four = PyLong_FromLong(64)) == NULL) {
            PyErr_Clear();
            return -1;
        }
        hi_obj = PyNumber_Rshift(o, ans_sixty_four);
        if (hi_obj == NULL) {
            PyErr_Clear();
            return -1;
        }
        hi = PyLong_AsUnsignedLongLong(hi_obj);  /* negative or >= 2**128: error */
        Py_DECREF(hi_obj);
        if (hi == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            return -1;
        }
        lo = PyLong_AsUnsignedLongLongMask(o);
        *wsum = 0;
        for (i = 0; i < 4; i++) {
            uint32_t h = (uint32_t)(hi >> (48 - 16 * i)) & 0xffffu;
            uint32_t l = (uint32_t)(lo >> (48 - 16 * i)) & 0xffffu;
            ans_put16(out + 2 * i, h);
            ans_put16(out + 8 + 2 * i, l);
            *wsum += h + l;
        }
        return 0;
    }

    /* The whole IPv6 (no extension headers) + TCP packet from addresses already
       converted by ans_addr6 (``asum``: the sum of both addresses' words); Py_None
       (new reference) means "use the pure-Python builder". */
    static PyObject *ans_build_ipv6_tcp(const unsigned char *src, const unsigned char *dst,
                                        uint64_t asum, uint32_t flow, PyObject *a_hops,
                                        PyObject *a_sport, PyObject *a_dport, PyObject *a_seq,
                                        PyObject *a_ack, PyObject *a_flags, PyObject *a_window,
                                        PyObject *options, PyObject *payload)
    {
        uint32_t hops, sport, dport, seq, ack, flags, window;
        Py_buffer ov, pv;
        Py_ssize_t tcp_len;
        PyObject *res;
        unsigned char *p;
        if (flow > 0xfffffu || ans_field(a_hops, 0xffUL, &hops)
            || ans_field(a_sport, 0xffffUL, &sport) || ans_field(a_dport, 0xffffUL, &dport)
            || ans_field(a_seq, 0xffffffffUL, &seq) || ans_field(a_ack, 0xffffffffUL, &ack)
            || ans_field(a_flags, 0xffUL, &flags) || ans_field(a_window, 0xffffUL, &window))
            Py_RETURN_NONE;
        if (ans_tcp_buffers(options, payload, 65535, &ov, &pv) < 0)
            Py_RETURN_NONE;
        tcp_len = 20 + ov.len + pv.len;
        res = PyBytes_FromStringAndSize(NULL, 40 + tcp_len);
        if (res == NULL) {
            PyBuffer_Release(&pv);
            PyBuffer_Release(&ov);
            return NULL;
        }
        p = (unsigned char *)PyBytes_AS_STRING(res);
        /* RFC 8200 3: version 6, traffic class 0, flow label; next header TCP */
        ans_put32(p, 0x60000000u | flow);
        ans_put16(p + 4, (uint32_t)tcp_len);
        p[6] = 6;
        p[7] = (unsigned char)hops;
        memcpy(p + 8, src, 16);
        memcpy(p + 24, dst, 16);
        /* RFC 8200 8.1: pseudo-header (addresses, upper-layer length, next header) */
        ans_fill_tcp(p + 40, sport, dport, seq, ack, flags, window, &ov, &pv, asum + 6u);
        return res;
    }

    /* parse_tcp's usual case, building the TcpSegment record directly: the
       record class and its slot offsets are registered once (register_segment). */
    #define ANS_SEG_SLOTS 16
    static PyTypeObject *ans_seg_type = NULL;
    static Py_ssize_t ans_seg_offset[ANS_SEG_SLOTS];

    static int ans_register_segment(PyObject *cls, PyObject *names)
    {
        Py_ssize_t i;
        if (!PyType_Check(cls) || !PyTuple_Check(names) || PyTuple_GET_SIZE(names) != ANS_SEG_SLOTS) {
            PyErr_SetString(PyExc_TypeError, "register_segment(cls, 16 slot names)");
            return -1;
        }
        for (i = 0; i < ANS_SEG_SLOTS; i++) {
            PyObject *d = PyObject_GetAttr(cls, PyTuple_GET_ITEM(names, i));
            if (d == NULL)
                return -1;
            if (!Py_IS_TYPE(d, &PyMemberDescr_Type)
                || ((PyMemberDescrObject *)d)->d_member->type != T_OBJECT_EX) {
                Py_DECREF(d);
                PyErr_SetString(PyExc_TypeError, "not a __slots__ member");
                return -1;
            }
            ans_seg_offset[i] = ((PyMemberDescrObject *)d)->d_member->offset;
            Py_DECREF(d);
        }
        Py_XDECREF((PyObject *)ans_seg_type);
        Py_INCREF(cls);
        ans_seg_type = (PyTypeObject *)cls;
        return 0;
    }

    static inline uint32_t ans_get16(const unsigned char *p)
    {
        return ((uint32_t)p[0] << 8) | p[1];
    }

    static inline uint32_t ans_get32(const unsigned char *p)
    {
        return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    }

    /* The record, or Py_None (new reference): "use the pure-Python parser". */
    static PyObject *ans_parse_tcp(PyObject *buf, PyObject *a_src, PyObject *a_dst)
    {
        Py_buffer v;
        const unsigned char *p;
        Py_ssize_t n, hlen;
        uint32_t src, dst;
        int has_ts = 0, verify;
        PyObject *vals[ANS_SEG_SLOTS];
        PyObject *seg;
        int i;
        if (ans_seg_type == NULL || PyByteArray_Check(buf))
            Py_RETURN_NONE;
        verify = a_src != Py_None && a_dst != Py_None;
        if (verify && (ans_field(a_src, 0xffffffffUL, &src) || ans_field(a_dst, 0xffffffffUL, &dst)))
            Py_RETURN_NONE;
        if (PyObject_GetBuffer(buf, &v, PyBUF_SIMPLE) < 0) {
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        p = (const unsigned char *)v.buf;
        n = v.len;
        hlen = n >= 20 ? (Py_ssize_t)((p[12] >> 4) << 2) : 0;
        if (n < 20 || hlen > n)
            goto fallback;
        if (hlen == 32 && ans_get32(p + 20) == 0x0101080Au)
            has_ts = 1;
        else if (hlen != 20)
            goto fallback;  /* other options (or a bad offset): the option walker */
        if (verify && ans_ones_sum(p, (size_t)n, (uint64_t)src + dst + 6u + (uint64_t)n) != 0xffffu)
            goto fallback;  /* ChecksumError, raised by the pure parser */
        memset(vals, 0, sizeof(vals));
        vals[0] = PyLong_FromUnsignedLong(ans_get16(p));
        vals[1] = PyLong_FromUnsignedLong(ans_get16(p + 2));
        vals[2] = PyLong_FromUnsignedLong(ans_get32(p + 4));
        vals[3] = PyLong_FromUnsignedLong(ans_get32(p + 8));
        vals[4] = PyLong_FromUnsignedLong(p[13]);
        vals[5] = PyLong_FromUnsignedLong(ans_get16(p + 14));
        vals[6] = PyLong_FromUnsignedLong(ans_get16(p + 18));
        vals[7] = PyLong_FromSsize_t(hlen);
        Py_INCREF(Py_None); vals[8] = Py_None;    /* mss */
        Py_INCREF(Py_None); vals[9] = Py_None;    /* wscale */
        Py_INCREF(Py_False); vals[10] = Py_False; /* sack_permitted */
        vals[11] = PyTuple_New(0);                /* sack_blocks */
        if (has_ts) {
            vals[12] = PyLong_FromUnsignedLong(ans_get32(p + 24));
            vals[13] = PyLong_FromUnsignedLong(ans_get32(p + 28));
        } else {
            Py_INCREF(Py_None); vals[12] = Py_None;
            Py_INCREF(Py_None); vals[13] = Py_None;
        }
        vals[15] = PyLong_FromUnsignedLong(ans_get16(p + 16));
        PyBuffer_Release(&v);
        vals[14] = PySequence_GetSlice(buf, hlen, PY_SSIZE_T_MAX);  /* payload */
        seg = NULL;
        for (i = 0; i < ANS_SEG_SLOTS; i++)
            if (vals[i] == NULL)
                goto error;
        seg = ans_seg_type->tp_alloc(ans_seg_type, 0);
        if (seg == NULL)
            goto error;
        for (i = 0; i < ANS_SEG_SLOTS; i++)
            *(PyObject **)((char *)seg + ans_seg_offset[i]) = vals[i];  /* steals */
        return seg;
    error:
        for (i = 0; i < ANS_SEG_SLOTS; i++)
            Py_XDECREF(vals[i]);
        return NULL;
    fallback:
        PyBuffer_Release(&v);
        Py_RETURN_NONE;
    }

    #define ANS_WRITE_CHUNK 64

    /* write(2) packets[start:] while they are bytes and the writes succeed. */
    static PyObject *ans_write_packets(int fd, PyObject *packets, Py_ssize_t start)
    {
        PyObject *fast, *held[ANS_WRITE_CHUNK];
        const char *bufs[ANS_WRITE_CHUNK];
        Py_ssize_t lens[ANS_WRITE_CHUNK];
        Py_ssize_t n, i, k, m, done = 0;
        long long nbytes = 0;
        int failed = 0;
        fast = PySequence_Fast(packets, "packets must be a sequence");
        if (fast == NULL)
            return NULL;
        n = PySequence_Fast_GET_SIZE(fast);
        i = start < 0 ? 0 : start;
        while (i < n && !failed) {
            m = 0;
            while (m < ANS_WRITE_CHUNK && i + m < n) {
                PyObject *item = PySequence_Fast_GET_ITEM(fast, i + m);
                if (!PyBytes_CheckExact(item))
                    break;
                Py_INCREF(item);
                held[m] = item;
                bufs[m] = PyBytes_AS_STRING(item);
                lens[m] = PyBytes_GET_SIZE(item);
                m++;
            }
            if (m == 0)
                break;  /* not bytes: the caller takes it */
            k = 0;
            Py_BEGIN_ALLOW_THREADS
            for (; k < m; k++) {
                if (write(fd, bufs[k], (size_t)lens[k]) < 0) {
                    failed = 1;
                    break;
                }
                nbytes += lens[k];
            }
            Py_END_ALLOW_THREADS
            for (Py_ssize_t j = 0; j < m; j++)
                Py_DECREF(held[j]);
            done += k;
            i += k;
            if (k < m && !failed)
                break;
        }
        Py_DECREF(fast);
        return Py_BuildValue("nL", done, nbytes);
    }
    """
    uint64_t ans_ones_sum(const unsigned char *p, size_t n, uint64_t initial) nogil
    uint64_t ans_siphash24(const unsigned char *key, const unsigned char *m, size_t n) nogil
    object ans_build_ipv4_tcp(object src, object dst, object ident, object ttl, object sport,
                              object dport, object seq, object ack, object flags, object window,
                              object options, object payload)
    object ans_build_ipv6_tcp(const unsigned char *src, const unsigned char *dst, uint64_t asum,
                              uint32_t flow, object hops, object sport, object dport, object seq,
                              object ack, object flags, object window, object options,
                              object payload)
    int ans_addr6(object o, unsigned char *out, uint64_t *wsum)
    object ans_write_packets(int fd, object packets, Py_ssize_t start)
    int ans_register_segment(object cls, object names) except -1
    object ans_parse_tcp(object buf, object src, object dst)


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


def build_ipv4_tcp(object src, object dst, object ident, object ttl, object src_port,
                   object dst_port, object seq, object ack, object flags, object window,
                   object options, object payload):
    """A whole IPv4 (DF set) + TCP packet, both checksums filled (see wire/tcp.py)."""
    cdef object packet = ans_build_ipv4_tcp(src, dst, ident, ttl, src_port, dst_port, seq, ack,
                                            flags, window, options, payload)
    if packet is None:
        from aionetstack.wire.tcp import pure_build_ipv4_tcp

        return pure_build_ipv4_tcp(src, dst, ident, ttl, src_port, dst_port, seq, ack, flags,
                                   window, options, payload)
    return packet


def build_ipv6_tcp(object src, object dst, object flow_label, object hop_limit,
                   object src_port, object dst_port, object seq, object ack, object flags,
                   object window, object options, object payload):
    """A whole IPv6 + TCP packet, the checksum filled (``wire.tcp.build_ipv6_tcp``)."""
    cdef unsigned char s16[16]
    cdef unsigned char d16[16]
    cdef uint64_t ssum = 0
    cdef uint64_t dsum = 0
    cdef object packet = None
    if (type(flow_label) is int and 0 <= flow_label <= 0xFFFFF
            and ans_addr6(src, s16, &ssum) == 0 and ans_addr6(dst, d16, &dsum) == 0):
        packet = ans_build_ipv6_tcp(s16, d16, ssum + dsum, <uint32_t>flow_label, hop_limit,
                                    src_port, dst_port, seq, ack, flags, window, options,
                                    payload)
    if packet is None:
        from aionetstack.wire.tcp import pure_build_ipv6_tcp

        return pure_build_ipv6_tcp(src, dst, flow_label, hop_limit, src_port, dst_port, seq,
                                   ack, flags, window, options, payload)
    return packet


cdef class Ipv6TcpBuilder:
    """The IPv6 ``PacketBuilder`` of one flow (``core.tcp.tcb.ipv6_builder``):
    ``builder(src, dst, ident, hop_limit, src_port, dst_port, seq, ack, flags,
    window, options, payload)`` (``ident`` ignored) with the flow's label. The
    128-bit addresses are converted once and kept while the same objects come
    back (a connection passes its own each time)."""

    cdef readonly object flow_label
    cdef object _src
    cdef object _dst
    cdef unsigned char _s16[16]
    cdef unsigned char _d16[16]
    cdef uint64_t _asum

    def __init__(self, object flow_label):
        if type(flow_label) is not int or not 0 <= flow_label <= 0xFFFFF:
            raise ValueError(f"IPv6 flow label {flow_label} is not 20 bits")
        self.flow_label = flow_label
        self._src = None
        self._dst = None

    def __call__(self, object src, object dst, object ident, object hop_limit,
                 object src_port, object dst_port, object seq, object ack, object flags,
                 object window, object options, object payload):
        cdef uint64_t ssum = 0
        cdef uint64_t dsum = 0
        cdef object packet = None
        if src is not self._src or dst is not self._dst:
            self._src = self._dst = None
            if ans_addr6(src, self._s16, &ssum) == 0 and ans_addr6(dst, self._d16, &dsum) == 0:
                self._src, self._dst, self._asum = src, dst, ssum + dsum
        if self._src is not None:
            packet = ans_build_ipv6_tcp(self._s16, self._d16, self._asum,
                                        <uint32_t>self.flow_label, hop_limit, src_port,
                                        dst_port, seq, ack, flags, window, options, payload)
        if packet is None:
            from aionetstack.wire.tcp import pure_build_ipv6_tcp

            return pure_build_ipv6_tcp(src, dst, self.flow_label, hop_limit, src_port,
                                       dst_port, seq, ack, flags, window, options, payload)
        return packet


def write_packets(int fd, object packets, Py_ssize_t start=0):
    """write(2) ``packets[start:]`` until an item is not bytes or a write fails.

    Returns ``(written, nbytes)``: the packet at ``start + written`` (if any) was
    not written; redo it with ``os.write`` to learn why.
    """
    return ans_write_packets(fd, packets, start)



def register_segment(object cls, object names):
    """Tell ``parse_tcp`` the record class and its slot names (in field order)."""
    ans_register_segment(cls, names)


def parse_tcp(object buf, object src=None, object dst=None):
    """``wire.tcp.parse_tcp``, compiled for the usual segment (see the module docstring)."""
    cdef object seg = ans_parse_tcp(buf, src, dst)
    if seg is None:
        from aionetstack.wire.tcp import pure_parse_tcp

        return pure_parse_tcp(buf, src, dst)
    return seg
