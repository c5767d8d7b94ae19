"""A pure-Python AES-256-GCM and PBKDF2-HMAC-SHA256, written from the specs, for tests only.

Why it exists: ``cryptography`` has no WebAssembly wheel and Pyodide's ``hashlib``
has no ``pbkdf2_hmac``, yet the unit suite runs inside Pyodide too. This third,
independent implementation lets the vault's test vectors be checked on both
runtimes (CPython also checks them against ``cryptography``; the browser against
WebCrypto). It is slow and not constant-time: never use it for real secrets.

Specs: FIPS 197 (AES), NIST SP 800-38D (GCM), RFC 8018 §5.2 (PBKDF2), RFC 2104 (HMAC).
"""

from __future__ import annotations

import hashlib

__all__ = ["AuthError", "gcm_decrypt", "gcm_encrypt", "pbkdf2_sha256"]


class AuthError(Exception):
    """The GCM tag did not verify."""


# ---------------------------------------------------------------------------- AES


def _xtime(a: int) -> int:
    a <<= 1
    return (a ^ 0x11B) if a & 0x100 else a


def _gmul(a: int, b: int) -> int:
    out = 0
    while b:
        if b & 1:
            out ^= a
        a, b = _xtime(a), b >> 1
    return out


def _make_sbox() -> list[int]:
    inv = [0] * 256
    for x in range(1, 256):
        for y in range(1, 256):
            if _gmul(x, y) == 1:
                inv[x] = y
                break
    box = []
    for x in range(256):
        b = inv[x]
        s = b
        for shift in range(1, 5):  # the affine transform of FIPS 197 §5.1.1
            s ^= ((b << shift) | (b >> (8 - shift))) & 0xFF
        box.append(s ^ 0x63)
    return box


_SBOX = _make_sbox()
_MUL2 = [_gmul(x, 2) for x in range(256)]
_MUL3 = [_gmul(x, 3) for x in range(256)]


def _expand_key(key: bytes) -> list[list[int]]:
    """AES-256 key schedule: 15 round keys of 16 bytes (FIPS 197 §5.2, Nk = 8)."""
    if len(key) != 32:
        raise ValueError("AES-256 needs a 32-byte key")
    words = [list(key[i : i + 4]) for i in range(0, 32, 4)]
    rcon = 1
    for i in range(8, 60):
        t = list(words[i - 1])
        if i % 8 == 0:
            t = [_SBOX[b] for b in t[1:] + t[:1]]
            t[0] ^= rcon
            rcon = _xtime(rcon)
        elif i % 8 == 4:
            t = [_SBOX[b] for b in t]
        words.append([a ^ b for a, b in zip(words[i - 8], t, strict=True)])
    return [[b for word in words[r * 4 : r * 4 + 4] for b in word] for r in range(15)]


def _encrypt_block(round_keys: list[list[int]], block: bytes) -> bytes:
    s = [b ^ k for b, k in zip(block, round_keys[0], strict=True)]
    for r in range(1, 15):
        s = [_SBOX[b] for b in s]
        # ShiftRows on a column-major state: byte (row, col) sits at col * 4 + row.
        s = [s[((c + row) % 4) * 4 + row] for c in range(4) for row in range(4)]
        if r != 14:
            mixed = []
            for c in range(4):
                a0, a1, a2, a3 = s[c * 4 : c * 4 + 4]
                mixed += [
                    _MUL2[a0] ^ _MUL3[a1] ^ a2 ^ a3,
                    a0 ^ _MUL2[a1] ^ _MUL3[a2] ^ a3,
                    a0 ^ a1 ^ _MUL2[a2] ^ _MUL3[a3],
                    _MUL3[a0] ^ a1 ^ a2 ^ _MUL2[a3],
                ]
            s = mixed
        s = [b ^ k for b, k in zip(s, round_keys[r], strict=True)]
    return bytes(s)


# ---------------------------------------------------------------------------- GCM

_R = 0xE1 << 120


def _ghash_mul(x: int, h: int) -> int:
    """Multiply in GF(2^128) with GCM's bit order (SP 800-38D §6.3, Algorithm 1)."""
    z, v = 0, h
    for i in range(127, -1, -1):
        if (x >> i) & 1:
            z ^= v
        v = (v >> 1) ^ _R if v & 1 else v >> 1
    return z


def _ghash(h: int, aad: bytes, ct: bytes) -> int:
    y = 0
    for data in (aad, ct):
        for i in range(0, len(data), 16):
            block = data[i : i + 16].ljust(16, b"\0")
            y = _ghash_mul(y ^ int.from_bytes(block, "big"), h)
    lengths = (len(aad) * 8).to_bytes(8, "big") + (len(ct) * 8).to_bytes(8, "big")
    return _ghash_mul(y ^ int.from_bytes(lengths, "big"), h)


def _ctr(round_keys: list[list[int]], counter: int, data: bytes) -> bytes:
    out = bytearray()
    for i in range(0, len(data), 16):
        counter = (counter & ~0xFFFFFFFF) | ((counter + 1) & 0xFFFFFFFF)  # inc32
        stream = _encrypt_block(round_keys, counter.to_bytes(16, "big"))
        out += bytes(a ^ b for a, b in zip(data[i : i + 16], stream, strict=False))
    return bytes(out)


def _setup(key: bytes, iv: bytes) -> tuple[list[list[int]], int, int]:
    if len(iv) != 12:
        raise ValueError("only 96-bit IVs are supported")
    round_keys = _expand_key(key)
    h = int.from_bytes(_encrypt_block(round_keys, bytes(16)), "big")
    j0 = int.from_bytes(iv + b"\0\0\0\1", "big")
    return round_keys, h, j0


def _tag(round_keys: list[list[int]], h: int, j0: int, aad: bytes, ct: bytes) -> bytes:
    s = _ghash(h, aad, ct)
    return (s ^ int.from_bytes(_encrypt_block(round_keys, j0.to_bytes(16, "big")), "big")).to_bytes(16, "big")


def gcm_encrypt(key: bytes, iv: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM: ciphertext || 16-byte tag (the layout of WebCrypto and ``AESGCM``)."""
    round_keys, h, j0 = _setup(key, iv)
    ct = _ctr(round_keys, j0, plaintext)
    return ct + _tag(round_keys, h, j0, aad, ct)


def gcm_decrypt(key: bytes, iv: bytes, data: bytes, aad: bytes) -> bytes:
    if len(data) < 16:
        raise AuthError("shorter than a tag")
    round_keys, h, j0 = _setup(key, iv)
    ct, tag = data[:-16], data[-16:]
    if _tag(round_keys, h, j0, aad, ct) != tag:
        raise AuthError("tag mismatch")
    return _ctr(round_keys, j0, ct)


# ------------------------------------------------------------------------- PBKDF2


def pbkdf2_sha256(password: bytes, salt: bytes, iterations: int, length: int = 32) -> bytes:
    """RFC 8018 PBKDF2 with HMAC-SHA256 (RFC 2104), from ``hashlib.sha256`` alone."""
    key = hashlib.sha256(password).digest() if len(password) > 64 else password
    key = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def prf(message: bytes) -> bytes:
        i = inner.copy()
        i.update(message)
        o = outer.copy()
        o.update(i.digest())
        return o.digest()

    out = b""
    block = 1
    while len(out) < length:
        u = prf(salt + block.to_bytes(4, "big"))
        acc = int.from_bytes(u, "big")
        for _ in range(iterations - 1):
            u = prf(u)
            acc ^= int.from_bytes(u, "big")
        out += acc.to_bytes(32, "big")
        block += 1
    return out[:length]
