"""Lines, words and sections, as httpd's ap_cfg_getline and ap_getword_conf read them."""

import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geows.config.lexer import (
    PYTHON_ONLY_SPACE,
    SPACE,
    directive_lines,
    logical_lines,
    read_word,
    split_words,
)
from geows.config.tree import Directive, Section, parse
from geows.errors import ConfigError


def test_continuation_joins_lines_and_keeps_the_first_line_number():
    text = "Listen \\\n   8080\nLogLevel debug\n"
    assert list(logical_lines(text)) == [(1, "Listen    8080"), (3, "LogLevel debug")]


def test_continuation_with_crlf():
    assert list(logical_lines("Foo a\\\r\nb\r\nBar\r\n")) == [(1, "Foo ab"), (3, "Bar")]


def test_backslash_at_end_of_file_is_kept():
    assert list(logical_lines("Foo a\\")) == [(1, "Foo a\\")]


def test_comments_and_blank_lines_are_skipped_and_blanks_stripped():
    text = "# a comment\n\n   \t\n   # indented comment\n\tListen 80   \n"
    assert list(logical_lines(text)) == [(5, "Listen 80")]


def test_a_backslash_kept_before_an_empty_continued_line_continues_it_again():
    # httpd looks for the backslash at the end of the line joined so far: "A\\" continues
    # as "A\", then the empty line's newline follows that backslash (checked with
    # apache2 -t: the Bogus line is swallowed, and the config is accepted).
    assert logical_lines("Define A\\\\\n\nBogus x\n") == [(1, "Define ABogus x")]
    assert logical_lines("Define A\\\\\nBogus x\n") == [(1, "Define A\\Bogus x")]
    assert logical_lines("Define A\\\n\nBogus x\n") == [(1, "Define A"), (3, "Bogus x")]
    assert logical_lines("\\\nListen 80\n") == [(1, "Listen 80")]


def test_a_continued_comment_swallows_the_next_line():
    # httpd joins lines before it looks for '#'.
    assert list(logical_lines("# note \\\nListen 80\nListen 81\n")) == [(3, "Listen 81")]


def test_hash_after_the_start_of_a_line_is_an_argument():
    assert split_words(".??* *~ *#") == [".??*", "*~", "*#"]
    assert split_words("a.py init # note") == ["a.py", "init", "#", "note"]


def test_quoted_words():
    assert split_words("\"a b\" 'c d' e") == ["a b", "c d", "e"]
    assert split_words('"a" "b"') == ["a", "b"]
    assert split_words('"" x') == ["", "x"]


def test_backslash_escapes_only_the_quote_and_itself():
    assert split_words(r'"say \"hi\"" "C:\dir" C:\\dir') == ['say "hi"', r"C:\dir", r"C:\dir"]
    assert split_words(r"'it\'s' \"x") == ["it's", '\\"x']


def test_unclosed_quote_runs_to_the_end_of_the_line():
    assert split_words('"a b') == ["a b"]


def test_directive_names_keep_their_case_and_compare_lowercased():
    (node,) = parse("websockethandler Plugin.py Init_Func\n", "f.conf")
    assert isinstance(node, Directive)
    assert (node.name, node.key, node.args) == ("websockethandler", "websockethandler",
                                                ("Plugin.py", "Init_Func"))
    assert (node.file, node.line) == ("f.conf", 1)


def test_sections_nest_in_file_order():
    text = textwrap.dedent("""\
        <IfModule mod_websocket.c>
          <LOCATION "/a b">
            SetHandler websocket-handler
          </location>
          Listen 80
        </IfModule>
        Listen 81
        """)
    outer, last = parse(text, "f.conf")
    assert isinstance(outer, Section) and outer.args == ("mod_websocket.c",)
    location, listen = outer.children
    assert (location.name, location.key, location.args, location.line) == (
        "LOCATION", "location", ("/a b",), 2)
    assert [child.name for child in location.children] == ["SetHandler"]
    assert (listen.name, last.name, last.line) == ("Listen", "Listen", 7)


def test_section_without_arguments_and_text_after_the_bracket():
    else_, location = parse("<Else>\n</Else>\n<Location /x> ignored\n</Location>\n", "f")
    assert (else_.name, else_.args) == ("Else", ())
    assert location.args == ("/x",)


@pytest.mark.parametrize(("text", "line", "message"), [
    ("Listen 80\n<Location /x\n</Location>\n", 2, "<Location directive missing closing '>'"),
    ("<Location /echo>\nSetHandler none\n", 1, "<Location /echo> was not closed."),
    ("<IfModule x>\n<Location /echo>\n</IfModule>\n", 3,
     "Expected </Location> but saw </IfModule>"),
    ("Listen 80\n</Location>\n", 2, "</Location> without matching <Location> section"),
    ("<Location /x>\n</Location >\n", 2, "</Location> directive missing closing '>'"),
])
def test_section_syntax_errors_name_file_and_line(text, line, message):
    with pytest.raises(ConfigError) as info:
        parse(text, "/etc/httpd.conf")
    assert str(info.value) == f"/etc/httpd.conf:{line}: {message}"


# The fast lexer against a transcription of httpd's C (server/util.c), character by
# character: ap_cfg_getline (cfg_getstr, its continuation check, cfg_trim_line), the '#'
# check of ap_build_config, ap_getword_conf and substring_conf. Kept here only, as the
# reference the lexer's fast paths must agree with.

def c_isspace(c: str) -> bool:
    return c in " \t\n\v\f\r"


def c_config_lines(text: str) -> list[tuple[int, str]]:
    physical = [piece + "\n" for piece in text.split("\n")]  # what each fgets returns
    physical[-1] = physical[-1][:-1]
    if not physical[-1]:
        physical.pop()
    lines = []
    i = 0
    while i < len(physical):
        first = i + 1
        buf = ""
        while i < len(physical):  # at EOF within a continued line, what was read stays
            buf += physical[i]
            i += 1
            cp = len(buf)
            if cp > 0 and buf[cp - 1] == "\n":
                cp -= 1
                if cp > 0 and buf[cp - 1] == "\r":
                    cp -= 1
                if cp > 0 and buf[cp - 1] == "\\":
                    buf = buf[:cp - 1]  # remove the backslash (and what follows), continue
                    continue
            break
        start, end = 0, len(buf)  # cfg_trim_line
        while start < end and c_isspace(buf[start]):
            start += 1
        while end > start and c_isspace(buf[end - 1]):
            end -= 1
        line = buf[start:end]
        if line and line[0] != "#":
            lines.append((first, line))
    return lines


def c_substring_conf(s: str, start: int, length: int, quote: str) -> str:
    def at(i: int) -> str:
        return s[i] if i < len(s) else "\0"
    result = []
    i = 0
    while i < length:
        if at(start + i) == "\\" and (at(start + i + 1) == "\\"
                                       or (quote and at(start + i + 1) == quote)):
            i += 1
        result.append(at(start + i))
        i += 1
    return "".join(result)


def c_getword_conf(line: str) -> tuple[str, str]:
    """The word and the rest of the line, as ap_getword_conf leaves them."""
    def at(i: int) -> str:
        return line[i] if i < len(line) else "\0"
    pos = 0
    while c_isspace(at(pos)):
        pos += 1
    if at(pos) == "\0":
        return "", line[pos:]
    quote = at(pos)
    if quote in "\"'":
        end = pos + 1
        while at(end) != "\0" and at(end) != quote:
            if at(end) == "\\" and at(end + 1) != "\0" and at(end + 1) in (quote, "\\"):
                end += 2
            else:
                end += 1
        word = c_substring_conf(line, pos + 1, end - pos - 1, quote)
        if at(end) == quote:
            end += 1
    else:
        end = pos
        while at(end) != "\0" and not c_isspace(at(end)):
            end += 1
        word = c_substring_conf(line, pos, end - pos, "")
    while c_isspace(at(end)):
        end += 1
    return word, line[end:]


def c_words(args: str) -> list[str]:
    """Every word of the arguments, ap_getword_conf after ap_getword_conf."""
    while args and c_isspace(args[0]):
        args = args[1:]
    words = []
    while args:
        word, args = c_getword_conf(args)
        words.append(word)
    return words


# Mostly what configs are made of, with every character the lexer treats specially, and
# spaces that are blanks to Python but not to C.
_CHARS = st.sampled_from([*"ab<>/#=", "\"", "'", "\\", *SPACE, "\x1c", "\xa0", "\u3000",
                          "é"])
_LINE = st.text(_CHARS, max_size=40)
_TEXT = st.lists(st.one_of(_LINE, st.sampled_from(["Foo a b", "<Location /x>", "</Location>",
                                                   "a \\", "a \\\\", "\\", "\\\r", "",
                                                   "\r", "# c \\"])),
                 max_size=8).map("\n".join)


@settings(max_examples=1000, deadline=None)
@given(text=_TEXT)
def test_directive_lines_agree_with_httpd_transcribed(text):
    expected = []
    for number, line in c_config_lines(text):
        first, rest = c_getword_conf(line)
        expected.append((number, first, rest, c_words(rest)))
    assert logical_lines(text) == c_config_lines(text)
    assert directive_lines(text) == expected


@settings(max_examples=1000, deadline=None)
@given(text=_LINE)
def test_words_agree_with_httpd_transcribed(text):
    assert split_words(text) == c_words(text)
    word, end = read_word(text)
    assert (word, text[end:]) == c_getword_conf(text)


def test_python_only_spaces_are_all_the_others():
    others = [chr(c) for c in range(sys.maxunicode + 1)
              if chr(c).isspace() and chr(c) not in SPACE]
    assert "".join(others) == PYTHON_ONLY_SPACE
