"""What a shared object needs from others, read from its ELF dynamic section without
loading it: the symbols it leaves undefined and the libraries it names (DT_NEEDED).
Sans-I/O: it reads the bytes it is given; ValueError for bytes that are no ELF
shared object it can read."""

from __future__ import annotations

import struct
from dataclasses import dataclass

_MAGIC = b"\x7fELF"
_SHT_DYNSYM = 11
_SHT_DYNAMIC = 6
_DT_NEEDED = 1
_SHN_UNDEF = 0
_STB_WEAK = 2


@dataclass(frozen=True)
class Needs:
    symbols: tuple[str, ...]    # undefined, not weak: the load fails without them
    libraries: tuple[str, ...]  # DT_NEEDED, in order


def dynamic_needs(data: bytes) -> Needs:
    if data[:4] != _MAGIC or len(data) < 64:
        raise ValueError("not an ELF file")
    wide = {1: False, 2: True}.get(data[4])
    order = {1: "<", 2: ">"}.get(data[5])
    if wide is None or order is None:
        raise ValueError("an ELF file of unknown class or byte order")
    if wide:
        shoff, = struct.unpack_from(order + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(order + "HH", data, 0x3A)
        section = order + "IIQQQQIIQQ"
        symbol, dynamic = order + "IBBHQQ", order + "qQ"
    else:
        shoff, = struct.unpack_from(order + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(order + "HH", data, 0x2E)
        section = order + "IIIIIIIIII"
        symbol, dynamic = order + "IIIBBH", order + "iI"
    try:
        sections = [struct.unpack_from(section, data, shoff + n * shentsize)
                    for n in range(shnum)]
        symbols: list[str] = []
        libraries: list[str] = []
        for _name, kind, _flags, _addr, offset, size, link, _info, _align, entsize in sections:
            strings = sections[link]
            if kind == _SHT_DYNSYM:
                symbols += _undefined(data, offset, size, entsize, symbol, wide, strings)
            elif kind == _SHT_DYNAMIC:
                for at in range(offset, offset + size, entsize):
                    tag, value = struct.unpack_from(dynamic, data, at)
                    if tag == _DT_NEEDED:
                        libraries.append(_string(data, strings, value))
    except (struct.error, IndexError, UnicodeDecodeError, OverflowError) as exc:
        raise ValueError(f"a damaged ELF file ({exc})") from None
    return Needs(tuple(symbols), tuple(libraries))


def _undefined(data: bytes, offset: int, size: int, entsize: int, layout: str, wide: bool,
               strings: tuple) -> list[str]:
    names = []
    for at in range(offset + entsize, offset + size, entsize):  # entry 0 is the null symbol
        fields = struct.unpack_from(layout, data, at)
        name, info, index = (fields[0], fields[1], fields[3]) if wide else \
            (fields[0], fields[3], fields[5])
        if index == _SHN_UNDEF and info >> 4 != _STB_WEAK and name:
            names.append(_string(data, strings, name))
    return names


def _string(data: bytes, strings: tuple, offset: int) -> str:
    start = strings[4] + offset
    return data[start:data.index(b"\0", start)].decode("ascii")
