"""geows.plugin.elf on real shared objects built here by cc and ld (64-bit and 32-bit,
stripped, with DT_NEEDED entries, weak imports), judged against readelf, and on bytes that
are no ELF shared object it can read."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from geows.plugin.elf import Needs, dynamic_needs
from tests.geows_process import missing_tool
from tests.test_c_plugins import CC

# Two imports the library needs, one weak import it can do without, one it defines.
SOURCE = """
extern int needed_first(void);
extern int needed_second(void);
extern int optional(void) __attribute__((weak));
__thread int tls_defined;  /* defined, at value 0 (its offset in the TLS block) */
int defined_here(void) { return needed_second() + needed_first() + (optional ? optional() : 0); }
"""
DEPENDENCY = "int dependency(void) { return 1; }\n"


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        missing_tool(f"{name} is missing (apt-get install binutils)")
    return found


def cc(*args: str) -> None:
    if CC is None:
        missing_tool("no C compiler, cc (apt-get install gcc libc6-dev)")
    build = subprocess.run([CC, *args], capture_output=True, text=True, timeout=60)
    assert build.returncode == 0, f"cc {' '.join(args)} failed:\n{build.stderr}"


@pytest.fixture(scope="module")
def libraries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same source as a 64-bit library needing libm and libc, a stripped copy, and a
    32-bit one (no libc: -nostdlib) needing a 32-bit library of its own."""
    out = tmp_path_factory.mktemp("elf")
    (out / "needs.c").write_text(SOURCE)
    (out / "dependency.c").write_text(DEPENDENCY)
    wide, narrow = out / "wide.so", out / "narrow.so"
    cc("-shared", "-fPIC", "-o", str(wide), str(out / "needs.c"), "-Wl,--no-as-needed",
       "-lm", "-lc")
    cc("-m32", "-shared", "-fPIC", "-nostdlib", "-Wl,-soname,libdependency32.so",
       "-o", str(out / "libdependency32.so"), str(out / "dependency.c"))
    cc("-m32", "-shared", "-fPIC", "-nostdlib", "-o", str(narrow), str(out / "needs.c"),
       "-Wl,--no-as-needed", f"-L{out}", "-ldependency32")
    stripped = out / "stripped.so"
    subprocess.run([tool("strip"), "-o", str(stripped), str(wide)], check=True, timeout=30)
    return {"wide": wide, "narrow": narrow, "stripped": stripped}


def readelf_needs(library: Path) -> Needs:
    """What readelf says: the undefined dynamic symbols that are not weak, in the table's
    order (without their versions), and the NEEDED entries in order."""
    symbols = subprocess.run([tool("readelf"), "--dyn-syms", "-W", str(library)],
                             capture_output=True, text=True, timeout=30, check=True).stdout
    undefined = []
    for line in symbols.splitlines():
        fields = line.split()
        # Num: Value Size Type Bind Vis Ndx Name
        if len(fields) >= 8 and fields[0].endswith(":") and fields[6] == "UND" \
                and fields[4] != "WEAK":
            undefined.append(fields[7].split("@")[0])
    dynamic = subprocess.run([tool("readelf"), "-d", str(library)], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    return Needs(tuple(undefined), tuple(re.findall(r"\(NEEDED\).*\[(.+)\]", dynamic)))


@pytest.mark.parametrize("kind", ["wide", "narrow", "stripped"])
def test_a_librarys_needs_are_readelfs(libraries: dict[str, Path], kind: str) -> None:
    needs = dynamic_needs(libraries[kind].read_bytes())
    assert needs == readelf_needs(libraries[kind])
    assert {"needed_first", "needed_second"} <= set(needs.symbols)
    assert "optional" not in needs.symbols   # weak: the load does not fail without it
    assert "defined_here" not in needs.symbols and "tls_defined" not in needs.symbols


def test_the_64_bit_library_needs_libm_then_libc(libraries: dict[str, Path]) -> None:
    needs = dynamic_needs(libraries["wide"].read_bytes())
    assert needs.libraries == ("libm.so.6", "libc.so.6")
    assert dynamic_needs(libraries["stripped"].read_bytes()) == needs


def test_the_32_bit_library_needs_its_dependency_and_two_symbols(
        libraries: dict[str, Path]) -> None:
    data = libraries["narrow"].read_bytes()
    assert data[4] == 1   # ELFCLASS32
    needs = dynamic_needs(data)
    assert needs.libraries == ("libdependency32.so",)
    assert sorted(needs.symbols) == ["needed_first", "needed_second"]


def refusal(data: bytes) -> str:
    with pytest.raises(ValueError) as refused:
        dynamic_needs(data)
    return str(refused.value)


def test_bytes_that_are_no_elf_are_refused_saying_so(libraries: dict[str, Path]) -> None:
    data = libraries["wide"].read_bytes()
    assert refusal(b"") == "not an ELF file"
    assert refusal(b"not an ELF file at all" * 4) == "not an ELF file"
    assert refusal(b"\x7fELF" + b"\0" * 59) == "not an ELF file"  # under a header's 64 bytes
    # a whole header (64 bytes) of a file without sections: it needs nothing
    assert dynamic_needs(b"\x7fELF\x02\x01" + b"\0" * 58) == Needs((), ())
    assert refusal(b"\x7fELX" + data[4:]) == "not an ELF file"
    for byte, value in ((4, 0), (4, 3), (5, 0), (5, 3)):
        changed = data[:byte] + bytes([value]) + data[byte + 1:]
        assert refusal(changed) == "an ELF file of unknown class or byte order"


@pytest.mark.parametrize("kind", ["wide", "narrow"])
def test_a_truncated_or_misread_library_is_damaged(libraries: dict[str, Path],
                                                    kind: str) -> None:
    data = libraries[kind].read_bytes()
    for cut in (64, 4096, len(data) - 1):
        assert refusal(data[:cut]).startswith("a damaged ELF file ("), cut
    # little-endian bytes read as big-endian: offsets past the end
    assert refusal(data[:5] + b"\x02" + data[6:]).startswith("a damaged ELF file (")


def test_a_symbol_name_that_is_not_ascii_is_damage(tmp_path: Path) -> None:
    source = tmp_path / "named.c"
    source.write_text("extern int caf\u00e9(void);\nint call(void) { return caf\u00e9(); }\n",
                      encoding="utf-8")
    cc("-shared", "-fPIC", "-o", str(tmp_path / "named.so"), str(source))
    assert refusal((tmp_path / "named.so").read_bytes()).startswith(
        "a damaged ELF file ('ascii' codec can't decode")


def fields(library: Path) -> dict[str, tuple[int, int]]:
    """Where readelf says some fields are, and their sizes: the section header table's
    offset (e_shoff), .dynsym's sh_offset, the first undefined symbol's st_name and the first
    NEEDED entry's d_val."""
    wide = library.read_bytes()[4] == 2
    word = 8 if wide else 4
    header = subprocess.run([tool("readelf"), "-h", "-S", "-W", str(library)],
                            capture_output=True, text=True, timeout=30, check=True).stdout
    shoff = int(re.search(r"Start of section headers: +(\d+)", header)[1])
    shentsize = int(re.search(r"Size of section headers: +(\d+)", header)[1])
    sections = {match[2]: (int(match[1]), int(match[3], 16), int(match[4], 16))
                for match in re.finditer(r"\[ *(\d+)\] (\S+) +\S+ +\S+ (\S+) \S+ (\S+)",
                                         header)}
    dynsym, dynsym_at, symbol_size = sections[".dynsym"]
    _, dynamic_at, dynamic_size = sections[".dynamic"]
    symbols = subprocess.run([tool("readelf"), "--dyn-syms", "-W", str(library)],
                             capture_output=True, text=True, timeout=30, check=True).stdout
    first = next(int(fields[0].rstrip(":")) for fields in map(str.split, symbols.splitlines())
                 if len(fields) >= 8 and fields[6] == "UND" and fields[4] == "GLOBAL")
    entries = subprocess.run([tool("readelf"), "-d", str(library)], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    tags = re.findall(r"^ *0x[0-9a-f]+ \((\w+)\)", entries, re.MULTILINE)
    return {"e_shoff": (0x28 if wide else 0x20, word),
            "sh_offset": (shoff + dynsym * shentsize + (0x18 if wide else 0x10), word),
            "st_name": (dynsym_at + first * symbol_size, 4),
            "d_val": (dynamic_at + tags.index("NEEDED") * dynamic_size + word, word)}


def wrapped(data: bytes, at: int, size: int) -> bytes:
    """The field at `at` raised by 2**bits - len(data): past the end of the file, unsigned;
    read as signed, the same place counted from the end (as Python reads a negative offset)."""
    value = int.from_bytes(data[at:at + size], "little") - len(data) + 2 ** (8 * size)
    return data[:at] + value.to_bytes(size, "little") + data[at + size:]


@pytest.mark.parametrize("kind", ["wide", "narrow"])
@pytest.mark.parametrize("field", ["e_shoff", "sh_offset", "st_name", "d_val"])
def test_offsets_are_unsigned_a_field_past_the_end_is_refused(
        libraries: dict[str, Path], kind: str, field: str) -> None:
    data = libraries[kind].read_bytes()
    at, size = fields(libraries[kind])[field]
    with pytest.raises(ValueError):
        dynamic_needs(wrapped(data, at, size))


@pytest.mark.parametrize("kind", ["wide", "narrow"])
def test_a_section_count_of_65535_is_read_past_the_end(libraries: dict[str, Path],
                                                       kind: str) -> None:
    data = libraries[kind].read_bytes()
    at = 0x3C if kind == "wide" else 0x30   # e_shnum
    assert refusal(data[:at] + b"\xff\xff" + data[at + 2:]).startswith("a damaged ELF file (")
