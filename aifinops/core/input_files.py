"""The one reader of users' input files (Pulumi.yaml, stack files, policy-pack config, PulumiPolicy.yaml,
usage files, --fix rules, ...): bytes that are not UTF-8 are an input error (exit 2) naming the file and
the encoding expected, never a traceback or the policy-violation exit code."""
from __future__ import annotations

import codecs
import os
from pathlib import Path

from .errors import AifinopsError

EXPECTED_ENCODING = "UTF-8"
_BYTE_ORDER_MARKS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                     (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))


class UndecodableFileError(AifinopsError):
    """An input file is not UTF-8 text."""


def read_text_file(path: str | os.PathLike[str], what: str = "") -> str:
    """The file's text. A UTF-8 byte-order mark is accepted (as Pulumi's YAML and JSON readers accept it);
    any other encoding raises UndecodableFileError. `what` names the file's role, e.g. "--usage".
    OSError (missing, unreadable) is left to the caller, whose message knows what the file is for."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        found = next((name for mark, name in _BYTE_ORDER_MARKS if data.startswith(mark)), None)
        looks = f"it looks like {found} (it starts with a {found} byte-order mark)" if found else \
            f"byte 0x{data[error.start]:02x} at offset {error.start} is not valid UTF-8"
        role = f"{what} " if what else ""
        raise UndecodableFileError(f"{role}{path}: cannot read: expected {EXPECTED_ENCODING} text, but {looks}; "
                                   f"save the file as {EXPECTED_ENCODING}") from None
