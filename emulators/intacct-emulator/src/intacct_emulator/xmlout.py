"""Writing the response envelope: text assembled from escaped pieces (no tree for large pages)."""

from __future__ import annotations

from .errors import GatewayError

_ESC = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTR = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})

#: Stands for a byte that is not UTF-8; replaced by 0xFF after encoding (invalid_bytes_every knob).
INVALID_BYTE_MARK = "\ue0ff"


def esc(value) -> str:
    return str(value).translate(_ESC)


def attr(value) -> str:
    return str(value).translate(_ATTR)


def element(tag: str, value) -> str:
    return f"<{tag}>{esc(value)}</{tag}>"


def elements(pairs) -> str:
    return "".join(f"<{k}>{esc(v)}</{k}>" for k, v in pairs)


def record(tag: str, rec: dict, fields: list[str]) -> str:
    out = [f"<{tag}>"]
    for f in fields:
        v = rec.get(f, "")
        if "&" in v or "<" in v or ">" in v:
            v = v.translate(_ESC)
        out.append(f"<{f}>{v}</{f}>")
    out.append(f"</{tag}>")
    return "".join(out)


def errormessage(errors: list[GatewayError]) -> str:
    body = "".join(
        "<error>"
        + elements(
            [
                ("errorno", e.errorno),
                ("description", e.description),
                ("description2", e.description2),
                ("correction", e.correction),
            ]
        )
        + "</error>"
        for e in errors
    )
    return f"<errormessage>{body}</errormessage>"


def encode(text: str) -> bytes:
    data = text.encode("utf-8")
    if INVALID_BYTE_MARK in text:
        data = data.replace(INVALID_BYTE_MARK.encode("utf-8"), b"\xff")
    return data
