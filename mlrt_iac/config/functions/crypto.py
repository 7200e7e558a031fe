"""Hashes of strings and files, bcrypt, rsadecrypt, uuid and uuidv5.

`bcrypt` and `uuid` give a new value on every call, so, as in Terraform, they are unknown while
planning and computed during apply (see base.applying).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Callable
from typing import Any

from ...values import UNKNOWN
from ..valueops import to_str
from .base import Func, FuncContext, FuncError, int_arg, is_applying
from .filesystem import read_bytes


def _b64(digest: Callable[[bytes], Any]) -> Callable[..., Any]:
    return lambda ctx, s: base64.b64encode(digest(to_str(s).encode()).digest()).decode()


def _file_hash(digest: Callable[[bytes], Any], b64: bool) -> Callable[..., Any]:
    def fn(ctx: FuncContext, p: Any) -> Any:
        h = digest(read_bytes(ctx, p))
        return base64.b64encode(h.digest()).decode() if b64 else h.hexdigest()

    return fn


def f_bcrypt(ctx: FuncContext, s: Any, *cost_args: Any) -> Any:
    import bcrypt

    cost = 10
    if cost_args:
        cost = int_arg(cost_args[0], "cost")
    if len(cost_args) > 1:
        raise FuncError("bcrypt() takes no more than two arguments")
    password = to_str(s).encode()
    if cost < 4:  # as Go's bcrypt: a cost below the minimum means the default
        cost = 10
    if cost > 31:
        raise FuncError(
            f"error occured generating password crypto/bcrypt: cost {cost} is outside allowed"
            " inclusive range 4..31"
        )
    if len(password) > 72:
        raise FuncError("error occured generating password bcrypt: password length exceeds 72 bytes")
    if not is_applying():
        return UNKNOWN
    return bcrypt.hashpw(password, bcrypt.gensalt(cost, prefix=b"2a")).decode()


def _load_key(key: str) -> Any:
    from cryptography.hazmat.primitives import serialization

    data = key.encode()
    if b"-----BEGIN" not in data:
        raise FuncError("invalid private key: ssh: no key found")
    try:
        if b"OPENSSH PRIVATE KEY" in data:
            return serialization.load_ssh_private_key(data.strip(), password=None)
        return serialization.load_pem_private_key(data.strip(), password=None)
    except TypeError:
        raise FuncError("invalid private key: the key is protected by a passphrase") from None
    except (ValueError, binascii.Error) as e:
        why = "data truncated" if "short data" in str(e) else str(e)
        raise FuncError(f"invalid ASN1 data in the given private key: {why}") from None
    except Exception as e:  # cryptography's unsupported-algorithm errors
        raise FuncError(f"invalid private key: {e}") from None


def _pkcs1v15_decrypt(key: Any, ciphertext: bytes) -> bytes:
    """RSA PKCS #1 v1.5 decryption that fails on bad padding as Go's rsa.DecryptPKCS1v15 does
    (OpenSSL's implicit rejection would return a made-up message instead)."""
    priv = key.private_numbers()
    n, d = priv.public_numbers.n, priv.d
    k = (n.bit_length() + 7) // 8
    c = int.from_bytes(ciphertext, "big")
    if len(ciphertext) > k or c >= n or k < 11:
        raise ValueError
    em = pow(c, d, n).to_bytes(k, "big")
    sep = em.find(b"\x00", 2)
    if em[0] != 0 or em[1] != 2 or sep < 10:
        raise ValueError
    return em[sep + 1 :]


def f_rsadecrypt(ctx: FuncContext, ciphertext: Any, privatekey: Any) -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    s = to_str(ciphertext)
    try:
        raw = base64.b64decode(s, validate=True)
    except (ValueError, binascii.Error):
        raise FuncError(f"failed to decode input {_quote(s)}: cipher text must be base64-encoded") from None
    key = _load_key(to_str(privatekey))
    if not isinstance(key, rsa.RSAPrivateKey):
        raise FuncError(f"invalid private key type {type(key).__name__}")
    try:
        out = _pkcs1v15_decrypt(key, raw)
    except ValueError:
        raise FuncError("failed to decrypt: crypto/rsa: decryption error") from None
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise FuncError("the decrypted message is not valid UTF-8") from None


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def f_uuid(ctx: FuncContext) -> Any:
    return str(uuid.uuid4()) if is_applying() else UNKNOWN


_NAMESPACES = {
    "dns": uuid.NAMESPACE_DNS,
    "url": uuid.NAMESPACE_URL,
    "oid": uuid.NAMESPACE_OID,
    "x500": uuid.NAMESPACE_X500,
}


def _parse_uuid(s: str) -> uuid.UUID:
    """google/uuid's Parse: 36 characters with dashes, urn:uuid:..., {...} or 32 hex digits."""
    t = s
    if len(t) == 45 and t[:9].lower() == "urn:uuid:":
        t = t[9:]
    elif len(t) == 38 and t[0] == "{" and t[-1] == "}":
        t = t[1:-1]
    if len(t) == 36:
        if any(t[i] != "-" for i in (8, 13, 18, 23)):
            raise ValueError("invalid UUID format")
        t = t.replace("-", "")
        if len(t) != 32:
            raise ValueError("invalid UUID format")
    elif len(t) != 32:
        raise ValueError(f"invalid UUID length: {len(s)}")
    try:
        return uuid.UUID(hex=t)
    except ValueError:
        raise ValueError("invalid UUID format") from None


def f_uuidv5(ctx: FuncContext, namespace: Any, name: Any) -> Any:
    ns = to_str(namespace)
    if ns in _NAMESPACES:
        space = _NAMESPACES[ns]
    else:
        try:
            space = _parse_uuid(ns)
        except ValueError as e:
            raise FuncError(f"uuidv5() doesn't support namespace {ns} ({e})") from None
    return str(uuid.uuid5(space, to_str(name)))


FUNCTIONS: dict[str, Func] = {
    "base64sha256": Func(_b64(hashlib.sha256), 1, 1),
    "base64sha512": Func(_b64(hashlib.sha512), 1, 1),
    "sha512": Func(lambda ctx, s: hashlib.sha512(to_str(s).encode()).hexdigest(), 1, 1),
    "filebase64sha256": Func(_file_hash(hashlib.sha256, True), 1, 1),
    "filebase64sha512": Func(_file_hash(hashlib.sha512, True), 1, 1),
    "filemd5": Func(_file_hash(hashlib.md5, False), 1, 1),
    "filesha1": Func(_file_hash(hashlib.sha1, False), 1, 1),
    "filesha256": Func(_file_hash(hashlib.sha256, False), 1, 1),
    "filesha512": Func(_file_hash(hashlib.sha512, False), 1, 1),
    "bcrypt": Func(f_bcrypt, 1, None),
    "rsadecrypt": Func(f_rsadecrypt, 2, 2),
    "uuid": Func(f_uuid, 0, 0),
    "uuidv5": Func(f_uuidv5, 2, 2),
}
